"""On-call alerts: a stuck job with the facts needed to act, and provider outages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.blocks.card import quote, status_label
from bot.blocks.controls import actions_block
from bot.blocks.people import actor, attempt_label
from bot.blocks.text import context, fit, section
from bot.blocks.times import elapsed
from bot.ids import ActionId, BlockId
from models.job import Job

REASON_MAX = 500


def oncall_alert(
    job: Job, title: str, now: datetime, *, escalated_by: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Age, attempts, provider status and last check, with Cancel and Retry; headed as
    stuck, or as escalated by its requester."""
    attempt = job.current_attempt
    last_check = elapsed(job.last_checked_at, now) + " ago" if job.last_checked_at else "never"
    provider = (attempt.provider_status if attempt else None) or "not started"
    facts = [
        f"*Age:* {elapsed(job.created_at, now)}",
        f"*Status:* {status_label(job)}",
        f"*Attempt:* {attempt_label(job)}",
        f"*Provider:* {fit(provider, 40)}",
        f"*Last check:* {last_check}",
    ]
    if job.wait_reason:
        facts.append(f"*Waiting:* {fit(job.wait_reason, REASON_MAX)}")
    blocks = [
        section(_heading(job, title, escalated_by)),
        section(quote(job.input_text)),
        section("\n".join(facts)),
        context("Retry starts a fresh attempt once the job has stopped: cancel it first."),
        *actions_block(
            job.id,
            [ActionId.JOB_CANCEL, ActionId.JOB_RETRY],
            block_id=f"{BlockId.ONCALL_ACTIONS.value}:{job.id}",
        ),
    ]
    what = "Escalated" if escalated_by else "Stuck"
    return f"{what} job {job.id}: {status_label(job)}", blocks


def _heading(job: Job, title: str, escalated_by: str | None) -> str:
    kind = f"{fit(title.lower(), 100)} job `{job.id}`"
    if escalated_by:
        return f":sos: *{actor(escalated_by)} escalated {kind}* to on-call"
    return f":rotating_light: *Stuck {kind}* for {actor(job.requested_by)}"
