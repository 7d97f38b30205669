"""A database that hangs: the person hears so before Slack's 3 s deadline, and nothing is
stored or lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.slack import BotProcess
from tests.support.stack import Stack

# It times a person's wait against Slack's deadline: beside the other tests, a busy
# machine's scheduling would be what it measures.
pytestmark = pytest.mark.exclusive
SLACK_DEADLINE = 3.0


def test_a_held_lock_gets_an_answer_within_slacks_deadline_and_stores_nothing(
    stack: Stack, bot: BotProcess, tmp_path: Path
) -> None:
    connection = stack.db.engine.connect()
    held = connection.begin()  # SQLite: BEGIN IMMEDIATE takes the one writer's lock
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
    try:
        began = time.monotonic()
        answer = bot.command("/research", "Is anyone there?")
        waited = time.monotonic() - began
    finally:
        held.rollback()
        connection.close()
    assert answer.status_code == 200
    text = answer.json()["text"]
    assert text.startswith("Errand's database is not answering right now, so nothing was done")
    assert waited < SLACK_DEADLINE
    ref = text.split("`")[1]
    assert ref in (tmp_path / "bot.log").read_text()
    assert "[]" in stack.cli("jobs", "list", "--json").stdout
    # Once the lock is gone, the same person's next command is stored and named.
    again = bot.command("/research", "Is anyone there now?").json()["text"]
    assert again.startswith("Started your research job `")
    assert again.split("`")[1] in stack.cli("jobs", "list", "--json").stdout
