"""Archive and Escalate: a requester hides a finished job from the lists they keep, or
asks on-call to look at one still going (or failed), once; each press is an event with
its actor, and nobody else's press changes anything."""

from __future__ import annotations

import json

import pytest

from tests.support.procs import wait_for
from tests.support.slack import BotProcess, buttons, card_text, job_id_of
from tests.support.stack import Stack
from tests.test_bot_flow import card_showing, replies_with

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def oncall_channel(stack: Stack) -> str:
    """ERRAND_ONCALL_CHANNEL for the bot and the workers; ask for it before `bot`."""
    stack.env["ERRAND_ONCALL_CHANNEL"] = "C_ONCALL"
    return "C_ONCALL"


def _private(bot: BotProcess, user: str, channel: str = "C_GENERAL") -> str:
    """Everything shown privately to `user` in `channel`, blocks included."""
    return json.dumps(bot.slack.conversation(channel)["ephemeral"].get(user, []))


def _last(bot: BotProcess, user: str) -> str:
    """The text of the newest thing shown privately to `user` in #general."""
    return bot.slack.ephemeral("C_GENERAL", user)[-1]


def _events(stack: Stack, job_id: str, action: str) -> list[tuple[str, str]]:
    return [
        (e["actor"], e["action"]) for e in stack.show(job_id)["events"] if e["action"] == action
    ]


@SQLITE
def test_escalate_posts_the_job_to_oncall_once_and_says_so_in_its_thread(
    stack: Stack, oncall_channel: str, bot: BotProcess
) -> None:
    stack.start_worker()
    bot.command("/research", "Why is this slow? [sandbox: duration=60]")
    card = card_showing(bot, "C_GENERAL", "Running")
    job_id = job_id_of(card)
    assert buttons(card) == ["job_cancel", "job_escalate"]

    bot.click("job_escalate", job_id, "U_OTHER", "C_GENERAL", card)
    wait_for(lambda: "Only the person who asked" in _private(bot, "U_OTHER"), 10, "no refusal")
    assert not bot.slack.messages(oncall_channel)

    bot.click("job_escalate", job_id, "U_REQUESTER", "C_GENERAL", card)
    wait_for(lambda: bot.slack.messages(oncall_channel), 30, "nothing reached on-call")
    [alert] = bot.slack.messages(oncall_channel)
    assert job_id in card_text(alert) and "escalated" in card_text(alert)
    assert "Why is this slow?" in card_text(alert)
    assert buttons(alert) == ["job_cancel", "job_retry"]
    replies_with(bot, "C_GENERAL", "Escalated to on-call by <@U_REQUESTER>")
    wait_for(lambda: "Escalated job" in _private(bot, "U_REQUESTER"), 10, "no answer")
    wait_for(
        lambda: buttons(card_showing(bot, "C_GENERAL", "Running")) == ["job_cancel"],
        20,
        "the card still offers Escalate",
    )

    bot.click("job_escalate", job_id, "U_REQUESTER", "C_GENERAL", card)  # the stale card
    wait_for(
        lambda: "escalated to on-call already" in _private(bot, "U_REQUESTER"), 10, "no answer"
    )
    assert len(bot.slack.messages(oncall_channel)) == 1
    assert _events(stack, job_id, "escalated") == [("U_REQUESTER", "escalated")]

    bot.click("job_cancel", job_id, "U_ONCALL", oncall_channel, alert)
    stack.wait_status(job_id, "canceled", timeout=20)


@SQLITE
def test_escalate_without_an_oncall_channel_says_there_is_nobody(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    bot.command("/research", "Doomed [sandbox: fail=invalid_prompt]")
    card = card_showing(bot, "C_GENERAL", "Failed")
    job_id = job_id_of(card)
    bot.click("job_escalate", job_id, "U_REQUESTER", "C_GENERAL", card)
    wait_for(lambda: "no on-call channel" in _private(bot, "U_REQUESTER"), 10, "no answer")
    assert stack.show(job_id)["status"] == "failed" and not _events(stack, job_id, "escalated")


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_archive_hides_a_finished_job_from_jobs_and_app_home_but_keeps_it(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    bot.command("/research", "Old news [sandbox: duration=1]")
    card = card_showing(bot, "C_GENERAL", "Completed")
    job_id = job_id_of(card)
    assert buttons(card) == []  # the channel's card stays clean; lists offer Archive

    bot.command("/jobs", "mine")
    wait_for(lambda: job_id in _private(bot, "U_REQUESTER"), 10, "/jobs did not list it")
    listed = bot.slack.conversation("C_GENERAL")["ephemeral"]["U_REQUESTER"][-1]
    assert "job_archive" in json.dumps(listed)

    bot.click("job_archive", job_id, "U_OTHER", "C_GENERAL", listed)
    wait_for(lambda: "Only the person who asked" in _private(bot, "U_OTHER"), 10, "no refusal")
    bot.click("job_archive", job_id, "U_REQUESTER", "C_GENERAL", listed)
    wait_for(lambda: "Archived job" in _private(bot, "U_REQUESTER"), 10, "no answer")
    assert _events(stack, job_id, "archived") == [("U_REQUESTER", "archived")]

    bot.command("/jobs", "mine")
    wait_for(lambda: "No jobs to show" in _private(bot, "U_REQUESTER"), 10, "/jobs still lists it")
    bot.command("/jobs", job_id)
    wait_for(lambda: _last(bot, "U_REQUESTER").startswith(f"Research job {job_id}"), 10, "lost")
    shown = stack.show(job_id)
    assert shown["status"] == "completed" and shown["output_text"]
    assert job_id in stack.cli("jobs", "list").stdout  # operators still see everything
