"""Faults seen from Slack: stuck jobs, a Slack outage, double clicks and racing approvers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest

from tests.support.procs import wait_for
from tests.support.slack import BotProcess, buttons, card_text, job_id_of
from tests.support.stack import Stack
from tests.test_bot_flow import card_showing, replies_with

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _at_once(*actions: Callable[[], object]) -> None:
    barrier = threading.Barrier(len(actions))

    def run(action: Callable[[], object]) -> None:
        barrier.wait()
        action()

    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _ephemeral(bot: BotProcess, user: str) -> str:
    """Everything shown privately to `user` in #general, blocks included."""
    return json.dumps(bot.slack.conversation("C_GENERAL")["ephemeral"].get(user, []))


def _jobs_stuck(bot: BotProcess) -> str:
    """On-call's answer to a fresh `/jobs stuck`: the list is of jobs stuck *now*, so a job
    reported while queued too long drops off once it starts, until it has run too long."""
    shown = len(bot.slack.conversation("C_GENERAL")["ephemeral"].get("U_ONCALL", []))
    bot.command("/jobs", "stuck", user="U_ONCALL")
    answered = lambda: bot.slack.conversation("C_GENERAL")["ephemeral"].get("U_ONCALL", [])  # noqa: E731
    wait_for(lambda: len(answered()) > shown, 10, "/jobs stuck was not answered")
    return json.dumps(answered()[-1])


@pytest.mark.kinds(stuck_after_seconds=2)
def test_stuck_job_is_reported_once_to_oncall_who_cancels_it(stack: Stack, bot: BotProcess) -> None:
    stack.env["ERRAND_ONCALL_CHANNEL"] = "C_ONCALL"
    stack.start_worker()
    bot.command("/research", "Never ends [sandbox: slow]")
    job_id = job_id_of(card_showing(bot, "C_GENERAL", "Running"))
    wait_for(lambda: bot.slack.messages("C_ONCALL"), 30, "no stuck alert")
    wait_for(lambda: "reported_stuck" in str(stack.show(job_id)["events"]), 10, "no event")
    [alert] = bot.slack.messages("C_ONCALL")
    assert job_id in card_text(alert) and "Last check" in card_text(alert)
    assert buttons(alert) == ["job_cancel", "job_retry"]
    wait_for(lambda: job_id in _jobs_stuck(bot), 30, "/jobs stuck did not list it")
    bot.command("/jobs", job_id.lower())
    wait_for(lambda: "Running" in _ephemeral(bot, "U_REQUESTER"), 10, "/jobs ID did not show it")
    bot.click("job_cancel", job_id, "U_ONCALL", "C_ONCALL", alert)
    stack.wait_status(job_id, "canceled", timeout=20)
    assert len(bot.slack.messages("C_ONCALL")) == 1  # reported once, not every pulse


def test_slack_outage_of_a_minute_loses_no_update(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/research", "Quick facts [sandbox: duration=4]")
    job_id = job_id_of(bot.slack.card("C_GENERAL", timeout=40))
    bot.slack.fault(outage_seconds=60)
    stack.wait_status(job_id, "completed", timeout=30)  # the job never waits on Slack
    card_showing(bot, "C_GENERAL", "Completed", timeout=120)
    replies = replies_with(bot, "C_GENERAL", "Result of job")
    assert len([t for t in replies if "Result of job" in t]) == 1


def test_double_click_on_cancel_is_one_action(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/research", "Slow one [sandbox: slow]")
    card = card_showing(bot, "C_GENERAL", "Running")
    job_id = job_id_of(card)
    click = lambda: bot.click("job_cancel", job_id, "U_REQUESTER", "C_GENERAL", card)  # noqa: E731
    _at_once(click, click)
    stack.wait_status(job_id, "canceled", timeout=20)
    actions = [e["action"] for e in stack.show(job_id)["events"]]
    assert actions.count("cancel_requested") == 1


def test_two_approvers_racing_make_one_decision(stack: Stack, bot: BotProcess) -> None:
    bot.slack.control(
        "/usergroups",
        {
            "id": "S_APPROVERS",
            "handle": "approvers",
            "name": "Approvers",
            "users": ["U_APPROVER", "U_ONCALL"],
        },
    )
    stack.start_worker()
    bot.command("/draft", "A short notice [sandbox: duration=1]")
    job_id = job_id_of(card_showing(bot, "C_GENERAL", "Waiting for review"))
    wait_for(lambda: bot.slack.messages("C_APPROVALS"), 20, "no review request")
    [request] = bot.slack.messages("C_APPROVALS")
    _at_once(
        lambda: bot.click("job_approve", job_id, "U_APPROVER", "C_APPROVALS", request),
        lambda: bot.click("job_approve", job_id, "U_ONCALL", "C_APPROVALS", request),
    )
    stack.wait_status(job_id, "completed", timeout=10)
    decisions = [e for e in stack.show(job_id)["events"] if e["to_status"] == "completed"]
    assert len(decisions) == 1
    [loser] = {"U_APPROVER", "U_ONCALL"} - {decisions[0]["actor"]}
    told = lambda: bot.slack.ephemeral("C_APPROVALS", loser)  # noqa: E731
    wait_for(lambda: any("Already decided" in t for t in told()), 10, "the loser was not told")
