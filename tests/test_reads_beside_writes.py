"""Reading takes no writer's lock: while a long write holds it (SQLite has one writer),
a person who asks what their jobs are doing still gets an answer."""

from __future__ import annotations

from tests.support.procs import wait_for
from tests.support.slack import BotProcess
from tests.support.stack import Stack

NOT_ANSWERING = "Errand's database is not answering"


def test_jobs_is_answered_while_a_write_holds_the_lock(stack: Stack, bot: BotProcess) -> None:
    started = bot.command("/research", "A question to list").json()["text"]
    job_id = started.split("`")[1]
    before = len(bot.slack.ephemeral("C_GENERAL", "U_REQUESTER"))
    connection = stack.db.engine.connect()
    held = connection.begin()  # SQLite: BEGIN IMMEDIATE takes the one writer's lock
    if connection.dialect.name == "postgresql":  # writes wait; reads go on
        connection.exec_driver_sql("LOCK TABLE jobs IN EXCLUSIVE MODE")
    try:
        bot.command("/jobs", "mine")
        wait_for(
            lambda: len(bot.slack.ephemeral("C_GENERAL", "U_REQUESTER")) > before,
            10,
            "no answer to /jobs while a write held the lock",
        )
        answer = bot.slack.conversation("C_GENERAL")["ephemeral"]["U_REQUESTER"][-1]
    finally:
        held.rollback()
        connection.close()
    assert NOT_ANSWERING not in str(answer)
    assert "Your recent jobs" in str(answer.get("text"))
    assert job_id in str(answer.get("blocks"))
