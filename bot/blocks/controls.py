"""Buttons, and which of them a job offers in each status (the server re-checks every press)."""

from __future__ import annotations

from typing import Any

from bot.ids import ActionId, BlockId
from models.job import Job
from models.status import CANCELABLE, RETRYABLE, JobStatus

LABELS = {
    ActionId.JOB_CANCEL: "Cancel",
    ActionId.JOB_RETRY: "Retry",
    ActionId.JOB_APPROVE: "Approve",
    ActionId.JOB_REJECT: "Reject",
    ActionId.JOB_REDRAFT: "Redraft with this feedback",
}
STYLES = {ActionId.JOB_APPROVE: "primary", ActionId.JOB_REJECT: "danger"}


def button(action: ActionId, job_id: str) -> dict[str, Any]:
    """A button whose value is the job ID, as CONTRACT.md promises."""
    element: dict[str, Any] = {
        "type": "button",
        "action_id": action.value,
        "text": {"type": "plain_text", "text": LABELS[action]},
        "value": job_id,
    }
    if action in STYLES:
        element["style"] = STYLES[action]
    return element


def card_actions(job: Job) -> list[ActionId]:
    """Queued, running or awaiting approval: Cancel. Failed, canceled, expired: Retry,
    unless retention purged the question it would ask again."""
    status = JobStatus(job.status)
    if status in CANCELABLE and not job.stop_requested:
        return [ActionId.JOB_CANCEL]
    # People may always try again; only automatic attempts are capped.
    if status in RETRYABLE and job.purged_at is None:
        return [ActionId.JOB_RETRY]
    return []


def actions_block(job_id: str, actions: list[ActionId], block_id: str | None = None) -> list[Any]:
    """An actions block, or nothing when there is nothing to press."""
    if not actions:
        return []
    return [
        {
            "type": "actions",
            "block_id": block_id or f"{BlockId.CARD_ACTIONS.value}:{job_id}",
            "elements": [button(a, job_id) for a in actions],
        }
    ]
