"""/deep: a kind that waits for an approver before its first create, whatever the
budget. Approvers see the question, the model and the estimate; Approve starts it,
Reject ends it with the reason told to the requester, and nothing reaches the provider
until an approver lets it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.ledger import stored
from tests.support.procs import wait_for
from tests.support.slack import BotProcess, buttons, card_text, job_id_of, thread_texts
from tests.support.stack import Stack

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _deep(bot: BotProcess, question: str) -> str:
    """A /deep command; the new job's ID once its card is posted."""
    before = {job_id_of(c) for c in bot.slack.cards("C_GENERAL")}
    assert bot.command("/deep", question).status_code == 200
    wait_for(lambda: len(bot.slack.cards("C_GENERAL")) > len(before), 30, "no card")
    [job_id] = {job_id_of(c) for c in bot.slack.cards("C_GENERAL")} - before
    return job_id


def _card(bot: BotProcess, job_id: str) -> dict[str, Any]:
    found = [c for c in bot.slack.cards("C_GENERAL") if job_id_of(c) == job_id]
    return found[0] if found else {}


def _request_for(bot: BotProcess, job_id: str) -> dict[str, Any]:
    """The request to start `job_id` in the approvals channel, once posted."""

    def found() -> list[dict[str, Any]]:
        return [m for m in bot.slack.messages("C_APPROVALS") if job_id in card_text(m)]

    wait_for(found, 30, f"no approval request for {job_id}")
    return found()[0]


def _creates(stack: Stack, job_id: str) -> list[dict[str, Any]]:
    return stack.openai.requests(endpoint="create", **{"metadata.job_id": job_id})


@SQLITE
def test_a_deep_job_waits_for_an_approver_and_starts_once_approved(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    question = "How do tidal forces shape moons? [sandbox: duration=1]"
    job_id = _deep(bot, question)
    stack.wait_status(job_id, "awaiting_approval", timeout=40)
    request = _request_for(bot, job_id)
    shown = card_text(request)
    assert buttons(request) == ["job_approve", "job_reject"]
    assert "How do tidal forces shape moons?" in shown, shown
    assert "o3-deep-research" in shown, shown
    assert re.search(r"\$\d+\.\d\d", shown), shown
    assert "/deep jobs need an approver before they start" in shown, shown
    assert "daily budget" not in shown, shown
    wait_for(lambda: "Waiting for approval" in card_text(_card(bot, job_id)), 20, "card")
    told = "/deep jobs need an approver before they start"
    wait_for(lambda: any(told in t for t in thread_texts(_card(bot, job_id))), 20, "no line")
    assert stack.openai.requests(endpoint="create") == []

    bot.click("job_approve", job_id, "U_APPROVER", "C_APPROVALS", request)
    stack.wait_status(job_id, "completed", timeout=40)
    record = stored(stack, job_id)
    assert record["attempt_history"][0]["approved_by"] == "U_APPROVER"
    assert record["model"] == "o3-deep-research"
    [create] = _creates(stack, job_id)
    assert create["model"] == "o3-deep-research"
    assert len(stack.openai.requests(endpoint="create")) == 1


@SQLITE
def test_a_rejected_deep_job_ends_with_the_reason_and_never_reaches_the_provider(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    job_id = _deep(bot, "Survey every paper on tidal locking [sandbox: duration=1]")
    stack.wait_status(job_id, "awaiting_approval", timeout=40)
    bot.click("job_reject", job_id, "U_APPROVER", "C_APPROVALS", _request_for(bot, job_id))
    wait_for(lambda: bot.slack.views("U_APPROVER")["modals"], 10, "no reason modal")
    modal = bot.slack.views("U_APPROVER")["modals"][-1]
    reason = "Too broad for a deep run"
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}}
    assert bot.submit_view(modal, "U_APPROVER", values).status_code == 200
    stack.wait_status(job_id, "rejected", timeout=20)
    wait_for(lambda: any(reason in t for t in thread_texts(_card(bot, job_id))), 20, "no reason")
    assert stack.openai.requests(endpoint="create") == []
    assert stack.openai.job(job_id)["made"] == 0


@SQLITE
def test_a_deep_job_no_approver_decides_on_expires_and_retry_asks_again(
    stack: Stack, bot: BotProcess
) -> None:
    """Nobody waits on a request the approvers forgot: past ERRAND_APPROVAL_WAIT_HOURS the
    job expires and its requester is told why, on its card and in its thread; a late
    Approve starts nothing, and Retry asks the approvers again."""
    stack.env["ERRAND_APPROVAL_WAIT_HOURS"] = "0.002"  # about 7 s
    stack.start_worker()
    job_id = _deep(bot, "Map every tidal stream on Earth [sandbox: duration=1]")
    stack.wait_status(job_id, "awaiting_approval", timeout=40)
    request = _request_for(bot, job_id)
    stack.wait_status(job_id, "expired", timeout=40)
    told = "No approver decided within 1 minute, so the job did not start"
    wait_for(lambda: any(told in t for t in thread_texts(_card(bot, job_id))), 20, "no line")
    wait_for(lambda: "Expired" in card_text(_card(bot, job_id)), 20, "card not expired")
    card = _card(bot, job_id)
    assert told in card_text(card) and "job_retry" in buttons(card)
    [event] = [e for e in stored(stack, job_id)["events"] if e["action"] == "approval_expired"]
    assert event["actor"] == "errand"
    retired = lambda: _request_for(bot, job_id)  # noqa: E731
    wait_for(lambda: buttons(retired()) == [], 20, "the request still offers its buttons")
    assert "expired" in card_text(retired()) and told in card_text(retired())

    assert bot.click("job_approve", job_id, "U_APPROVER", "C_APPROVALS", request).status_code == 200
    late = f"Job `{job_id}` is expired"
    wait_for(
        lambda: any(late in t for t in bot.slack.ephemeral("C_APPROVALS", "U_APPROVER")), 10, "?"
    )
    assert stack.status(job_id) == "expired"  # too late: nothing starts

    assert bot.click("job_retry", job_id, "U_REQUESTER", "C_GENERAL", card).status_code == 200
    stack.wait_status(job_id, "awaiting_approval", timeout=40)
    asked = lambda: [m for m in bot.slack.messages("C_APPROVALS") if job_id in card_text(m)]  # noqa: E731
    wait_for(lambda: len(asked()) == 2, 30, "the approvers were not asked again")
    assert stack.openai.requests(endpoint="create") == []


@SQLITE
def test_a_deep_job_canceled_while_it_waits_closes_its_request_to_the_approvers(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    job_id = _deep(bot, "Chart the tides of Fundy [sandbox: duration=1]")
    stack.wait_status(job_id, "awaiting_approval", timeout=40)
    request = _request_for(bot, job_id)
    assert buttons(request) == ["job_approve", "job_reject"]
    card = _card(bot, job_id)
    assert bot.click("job_cancel", job_id, "U_REQUESTER", "C_GENERAL", card).status_code == 200
    stack.wait_status(job_id, "canceled", timeout=20)
    wait_for(lambda: buttons(_request_for(bot, job_id)) == [], 20, "the request kept its buttons")
    assert "canceled by <@U_REQUESTER>" in card_text(_request_for(bot, job_id))
    assert stack.openai.requests(endpoint="create") == []
