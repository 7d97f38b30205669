"""/draft: review requests in the approvals channel with the draft under them (never in the
requester's channel before approval), approve and reject, first decision wins, redraft."""

from __future__ import annotations

import pytest

from tests.support.procs import wait_for
from tests.support.slack import BotProcess, buttons, card_text, job_id_of, thread_texts
from tests.support.stack import Stack
from tests.test_bot_flow import card_showing, replies_with

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _review_request(stack: Stack, bot: BotProcess) -> tuple[str, dict]:  # type: ignore[type-arg]
    stack.start_worker()
    bot.command("/draft", "A welcome note for new starters [sandbox: duration=1]")
    card = card_showing(bot, "C_GENERAL", "Waiting for review")
    assert buttons(card) == []
    wait_for(lambda: bot.slack.messages("C_APPROVALS"), 20, "no review request")
    [request] = bot.slack.messages("C_APPROVALS")
    assert buttons(request) == ["job_approve", "job_reject"]
    wait_for(lambda: _draft_under(bot, request), 20, "no draft under the request")
    replies_with(bot, "C_GENERAL", "waiting for an approver")
    # Before approval the draft is for approvers only: nothing of it in the requester's thread.
    assert not any("Draft of job" in t for t in thread_texts(bot.slack.card("C_GENERAL")))
    return job_id_of(card), request


def _draft_under(bot: BotProcess, request: dict) -> bool:  # type: ignore[type-arg]
    [current] = [m for m in bot.slack.messages("C_APPROVALS") if m["ts"] == request["ts"]]
    return any("Draft of job" in t for t in thread_texts(current))


def test_approve_delivers_and_non_approver_is_refused(stack: Stack, bot: BotProcess) -> None:
    job_id, request = _review_request(stack, bot)
    bot.click("job_approve", job_id, "U_OTHER", "C_APPROVALS", request)
    wait_for(lambda: bot.slack.ephemeral("C_APPROVALS", "U_OTHER"), 10, "no refusal")
    assert "Only approvers" in bot.slack.ephemeral("C_APPROVALS", "U_OTHER")[0]
    assert stack.status(job_id) == "needs_review"

    bot.click("job_approve", job_id, "U_APPROVER", "C_APPROVALS", request)
    stack.wait_status(job_id, "completed", timeout=10)
    card_showing(bot, "C_GENERAL", "Completed")
    replies_with(bot, "C_GENERAL", "Approved draft of job")
    replies_with(bot, "C_GENERAL", "Approved by <@U_APPROVER>")
    wait_for(lambda: buttons(bot.slack.messages("C_APPROVALS")[0]) == [], 10, "request not updated")
    assert "Approved by <@U_APPROVER>" in card_text(bot.slack.messages("C_APPROVALS")[0])
    shown = stack.show(job_id)
    assert shown["decided_by"] == "U_APPROVER" and shown["decided_at"]

    bot.click("job_reject", job_id, "U_APPROVER", "C_APPROVALS", request)  # second decision
    wait_for(
        lambda: any(
            "Already decided" in t for t in bot.slack.ephemeral("C_APPROVALS", "U_APPROVER")
        ),
        10,
        "second decision not refused",
    )
    assert stack.status(job_id) == "completed"


def test_reject_with_reason_tells_requester(stack: Stack, bot: BotProcess) -> None:
    job_id, request = _review_request(stack, bot)
    bot.click("job_reject", job_id, "U_APPROVER", "C_APPROVALS", request)
    wait_for(lambda: bot.slack.views("U_APPROVER")["modals"], 10, "no reason modal")
    modal = bot.slack.views("U_APPROVER")["modals"][-1]
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": "Too formal"}}}
    assert bot.submit_view(modal, "U_APPROVER", values).status_code == 200
    stack.wait_status(job_id, "rejected", timeout=10)
    replies_with(bot, "C_GENERAL", "Too formal")
    card_showing(bot, "C_GENERAL", "Rejected")
    assert stack.show(job_id)["decision_note"] == "Too formal"

    again = bot.submit_view(modal, "U_APPROVER", values)  # a second, late decision
    assert again.status_code == 200 and "Already decided" in again.text

    # The requester can redraft with the feedback: a new attempt whose input carries it.
    rejection = next(r for r in bot.slack.card("C_GENERAL")["replies"] if "Too formal" in r["text"])
    assert buttons(rejection) == ["job_redraft"]
    bot.click("job_redraft", job_id, "U_REQUESTER", "C_GENERAL", bot.slack.card("C_GENERAL"))
    stack.wait_status(job_id, "needs_review", timeout=30)
    shown = stack.show(job_id)
    assert shown["attempts"] == 2 and "Too formal" in shown["input"]


def test_an_approver_cannot_decide_on_their_own_job(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/draft", "My own note [sandbox: duration=1]", user="U_APPROVER")
    card = card_showing(bot, "C_GENERAL", "Waiting for review")
    wait_for(lambda: bot.slack.messages("C_APPROVALS"), 20, "no review request")
    [request] = bot.slack.messages("C_APPROVALS")
    bot.click("job_approve", job_id_of(card), "U_APPROVER", "C_APPROVALS", request)
    wait_for(lambda: bot.slack.ephemeral("C_APPROVALS", "U_APPROVER"), 10, "no refusal")
    assert "another approver" in bot.slack.ephemeral("C_APPROVALS", "U_APPROVER")[0]
    assert stack.status(job_id_of(card)) == "needs_review"


def test_a_reason_full_of_markup_still_reaches_the_requester(stack: Stack, bot: BotProcess) -> None:
    """Escaping after cutting once made such a reason too long for Slack: it was never told."""
    job_id, request = _review_request(stack, bot)
    bot.click("job_reject", job_id, "U_APPROVER", "C_APPROVALS", request)
    wait_for(lambda: bot.slack.views("U_APPROVER")["modals"], 10, "no reason modal")
    modal = bot.slack.views("U_APPROVER")["modals"][-1]
    reason = "<" * 1000
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}}
    assert bot.submit_view(modal, "U_APPROVER", values).status_code == 200
    stack.wait_status(job_id, "rejected", timeout=10)
    replies_with(bot, "C_GENERAL", "&lt;&lt;&lt;&lt;")
    assert not [c for c in bot.slack.calls("chat.postMessage") if c["error"] == "invalid_blocks"]
