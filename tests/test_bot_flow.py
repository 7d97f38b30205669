"""A job from a signed slash command to a result in its thread, with real processes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from models.job import Job
from tests.support.procs import wait_for
from tests.support.slack import BotProcess, buttons, card_text, job_id_of, thread_texts
from tests.support.stack import Stack

# The card and thread flows run on both databases; these presses add no SQL of their own.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def card_showing(bot: BotProcess, channel: str, word: str, timeout: float = 40) -> dict[str, Any]:
    """The channel's card once it shows `word` (a status label)."""
    wait_for(
        lambda: word in card_text(bot.slack.card(channel)),
        timeout,
        f"card never showed {word}",
    )
    return bot.slack.card(channel)


def replies_with(bot: BotProcess, channel: str, text: str, timeout: float = 20) -> list[str]:
    """The card's thread once some reply contains `text`."""
    wait_for(
        lambda: any(text in r for r in thread_texts(bot.slack.card(channel))),
        timeout,
        f"no reply with {text!r}",
    )
    return thread_texts(bot.slack.card(channel))


def test_research_from_slash_command_to_result_in_thread(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    started = time.monotonic()
    answer = bot.command("/research", "What is the capital of France? [sandbox: duration=4]")
    assert answer.status_code == 200
    assert time.monotonic() - started < 3
    card = bot.slack.card("C_GENERAL")
    job_id = job_id_of(card)
    assert answer.json() == {
        "response_type": "ephemeral",
        "text": f"Started your research job `{job_id}` (model gpt-5.2: kind default); "
        "its status card follows.",
    }
    stack.wait_status(job_id, "completed", timeout=30)
    card = card_showing(bot, "C_GENERAL", "Completed")
    assert buttons(card) == []
    replies = replies_with(bot, "C_GENERAL", f"Result of job {job_id}")
    assert any("Started on" in r for r in replies)
    assert any(f"Result of job {job_id}" in r and "France" in r for r in replies)
    assert len(bot.slack.cards("C_GENERAL")) == 1
    shown = stack.show(job_id)
    assert shown["thread_ts"] == card["ts"] and shown["requested_by"] == "U_REQUESTER"
    with stack.db.unit() as unit:  # the command's response_url is not kept once used
        assert unit.session.scalar(select(Job.response_url).where(Job.id == job_id)) is None


def test_cancel_by_requester_and_refused_to_someone_else(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/research", "A long one [sandbox: duration=30]")
    card = card_showing(bot, "C_GENERAL", "Running")
    job_id = job_id_of(card)
    assert buttons(card) == ["job_cancel", "job_escalate"]

    assert bot.click("job_cancel", job_id, "U_OTHER", "C_GENERAL", card).status_code == 200
    wait_for(lambda: bot.slack.ephemeral("C_GENERAL", "U_OTHER"), 10, "no refusal")
    assert "Only the person who asked" in bot.slack.ephemeral("C_GENERAL", "U_OTHER")[0]
    assert stack.status(job_id) == "running"

    bot.click("job_cancel", job_id, "U_REQUESTER", "C_GENERAL", card)
    stack.wait_status(job_id, "canceled", timeout=20)
    card = card_showing(bot, "C_GENERAL", "Canceled")
    assert buttons(card) == ["job_retry"]
    replies_with(bot, "C_GENERAL", "Canceled by <@U_REQUESTER>")
    presses = [
        (e["actor"], e["detail"])
        for e in stack.show(job_id)["events"]
        if e["action"] == "press:job_cancel"
    ]
    assert presses[0][0] == "U_OTHER" and presses[0][1].startswith("refused")
    assert presses[1][0] == "U_REQUESTER" and presses[1][1].startswith("ok")


@SQLITE_ONLY
def test_oncall_cancels_and_stale_press_changes_nothing(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/research", "Another long one [sandbox: duration=30]")
    card = card_showing(bot, "C_GENERAL", "Running")
    job_id = job_id_of(card)
    bot.click("job_cancel", job_id, "U_ONCALL", "C_GENERAL", card)
    stack.wait_status(job_id, "canceled", timeout=20)
    bot.click("job_cancel", job_id, "U_ONCALL", "C_GENERAL", card)  # the stale card
    wait_for(
        lambda: any("nothing changed" in t for t in bot.slack.ephemeral("C_GENERAL", "U_ONCALL")),
        10,
        "no stale-press answer",
    )
    assert stack.status(job_id) == "canceled"


@SQLITE_ONLY
def test_retry_after_failure_is_attempt_two(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/research", "Doomed [sandbox: fail=invalid_prompt]")
    card = card_showing(bot, "C_GENERAL", "Failed")
    job_id = job_id_of(card)
    replies_with(bot, "C_GENERAL", "The job failed")
    assert buttons(card) == ["job_retry", "job_escalate"]
    bot.click("job_retry", job_id, "U_REQUESTER", "C_GENERAL", card)
    replies_with(bot, "C_GENERAL", "attempt 2 of")
    stack.wait_status(job_id, "failed", timeout=30)
    assert stack.show(job_id)["attempts"] == 2
    assert len(stack.openai.responses_for(job_id)) == 2
