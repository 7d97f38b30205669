"""The approval request, its decided form, and the modal asking why a result is rejected."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks.card import quote
from bot.blocks.controls import actions_block
from bot.blocks.people import actor
from bot.blocks.text import context, fit, hyperlink, section
from bot.blocks.times import slack_date
from bot.ids import ActionId, BlockId, CallbackId
from models.job import Job
from models.status import JobStatus

PREVIEW_CHARS = 1_200  # of the result as Slack receives it (escaped mrkdwn)
NOTE_MAX = 1_000
TITLE_MAX = 100


def approval_request(job: Job, title: str, link: str | None) -> tuple[str, list[dict[str, Any]]]:
    """What approvers see: the ask, a preview, a link to the whole result, the buttons."""
    blocks = [
        *_summary(job, title, link),
        *actions_block(job.id, [ActionId.JOB_APPROVE, ActionId.JOB_REJECT], f"review:{job.id}"),
    ]
    return (
        f"{fit(title, TITLE_MAX)} job {job.id} from {actor(job.requested_by)} needs review",
        blocks,
    )


def start_request(job: Job, title: str, cost: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """A job held before it starts: why it waits (its kind needs an approver, or its
    requester's daily budget), the model and the estimate, the ask, and the buttons
    (Approve starts it, Reject ends it)."""
    line = (
        f":money_with_wings: *{title}* for {actor(job.requested_by)} waits for approval to "
        f"start · job `{job.id}`\n{_why_held(job, title, cost)}"
    )
    blocks = [
        section(line),
        section(quote(job.input_text)),
        *actions_block(job.id, [ActionId.JOB_APPROVE, ActionId.JOB_REJECT], f"start:{job.id}"),
    ]
    return (
        f"{title} job {job.id} from {actor(job.requested_by)} waits for approval to start",
        blocks,
    )


def _why_held(job: Job, title: str, cost: dict[str, Any]) -> str:
    """The sentence approvers decide on: the kind's rule with the model and the estimate,
    or the budget figures (older notices carry no reason: those were all budget holds)."""
    estimate = cost.get("estimate_usd")
    priced = "unknown" if estimate is None else f"up to ${estimate:.2f}"
    if cost.get("reason") == "kind":
        return (
            f"{cost.get('command') or title} jobs need an approver before they start. "
            f"Model `{cost.get('model') or job.model}`; estimated cost {priced}."
        )
    return (
        f"Estimated cost {priced}; spent today ${cost.get('spent_usd', 0):.2f} of their "
        f"${cost.get('budget_usd', 0):.2f} daily budget."
    )


def closed_request(job: Job, title: str) -> tuple[str, list[dict[str, Any]]]:
    """A request to start a job that ended before any approver decided: the buttons give
    way to how (no decision in time, `job.error`; or canceled, and by whom)."""
    if job.status == JobStatus.CANCELED:
        how = f":no_entry_sign: canceled by {actor(job.stop_requested_by)}"
    else:
        how = f":alarm_clock: {job.status.replace('_', ' ')}"
    line = (
        f"*{fit(title, TITLE_MAX)}* for {actor(job.requested_by)} · job `{job.id}`\n{how}. "
        f"{fit(job.error or '', NOTE_MAX)}"
    )
    blocks = [section(line.strip()), section(quote(job.input_text))]
    return f"{fit(title, TITLE_MAX)} job {job.id}: {job.status.replace('_', ' ')}", blocks


def decided_request(
    job: Job, title: str, link: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The request after a decision: the buttons give way to who decided and when."""
    verdict = decision_line(job)
    summary = [*_summary(job, title, link), context(verdict)]
    return f"{fit(title, TITLE_MAX)} job {job.id}: {verdict}", summary


def decision_line(job: Job) -> str:
    """`Approved by @x on <date>` (with the reason for a rejection)."""
    word = "Rejected" if job.status == JobStatus.REJECTED else "Approved"
    emoji = ":white_check_mark:" if word == "Approved" else ":no_entry:"
    when = f" {slack_date(job.decided_at)}" if job.decided_at else ""
    line = f"{emoji} {word} by {actor(job.decided_by)}{when}"
    if job.decision_note:
        line += f": {fit(job.decision_note, NOTE_MAX)}"
    return line


def _summary(job: Job, title: str, link: str | None) -> list[dict[str, Any]]:
    preview = fit(job.output_text or "", PREVIEW_CHARS, markdown=True)
    where = (
        hyperlink(link, "Read the full result") if link else "The whole draft is in this thread."
    )
    return [
        section(
            f":eyes: *{fit(title, TITLE_MAX)}* for {actor(job.requested_by)} needs review"
            f" · job `{job.id}`"
        ),
        section(quote(job.input_text)),
        section(preview if preview.strip() else "_(empty result)_"),
        context(where),
    ]


def reject_modal(job_id: str, channel: str | None, ts: str | None) -> dict[str, Any]:
    """Asks the approver why; where the request lives rides along in private_metadata."""
    meta = json.dumps({"job_id": job_id, "channel": channel, "ts": ts})
    return {
        "type": "modal",
        "callback_id": CallbackId.REJECT_REASON.value,
        "private_metadata": meta,
        "title": {"type": "plain_text", "text": "Reject result"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": BlockId.REASON.value,
                "label": {"type": "plain_text", "text": f"Why is job {job_id} rejected?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": BlockId.REASON_INPUT.value,
                    "multiline": True,
                    "max_length": 2000,
                },
            }
        ],
    }
