"""Short thread replies for milestones, and the notes Errand sends when it cannot post.

Each is a message's plain `text` (mrkdwn): outside text in it is fitted so the whole line
stays far under the 4,000 characters Slack recommends for `text`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.blocks.people import actor, attempt_label
from bot.blocks.text import fit
from bot.blocks.times import elapsed
from models.job import Job

PREVIEW_MAX = 300
REASON_MAX = 1_500


def started(job: Job, lane: str) -> str:
    return f":rocket: Started on `{job.model}` ({lane} lane), attempt {job.attempts}."


def still_running(job: Job, now: datetime) -> str:
    return f":hourglass: Still working: {elapsed(job.started_at or job.created_at, now)} so far."


def progress(detail: dict[str, Any]) -> str:
    """A streaming job's bounded-rate progress line, with the tail of what it wrote."""
    chars = int(detail.get("chars") or 0)
    tail = " ".join(str(detail.get("preview") or "").split())
    line = f":writing_hand: Writing: {chars:,} characters so far."
    return f"{line}\n> {fit(tail, PREVIEW_MAX, keep_end=True)}" if tail else line


def escalated(by: str | None) -> str:
    return f":sos: Escalated to on-call by {actor(by)}; they have the job's details."


def canceling(job: Job) -> str:
    return f":octagonal_sign: Cancel requested by {actor(job.stop_requested_by)}."


def retrying(job: Job) -> str:
    return f":repeat: Trying again: {attempt_label(job)}."


def failed(job: Job) -> str:
    return f":x: The job failed: {fit(job.error or 'no reason was given', REASON_MAX)}"


def canceled(job: Job) -> str:
    who = job.stop_requested_by
    return f":no_entry_sign: Canceled by {actor(who)}." if who else ":no_entry_sign: Canceled."


def expired(job: Job) -> str:
    """Past its time limit, unless Errand said otherwise (no approver decided in time)."""
    if job.error:
        return f":alarm_clock: {fit(job.error, REASON_MAX)}"
    return ":alarm_clock: Stopped: the job ran past its time limit."


def review_pending(where: str | None) -> str:
    place = f" in <#{where}>" if where else " below"
    return f":eyes: The draft is waiting for an approver{place}; it is not final yet."


def cannot_post(channel: str) -> str:
    """Why Errand answers privately, and how to fix it."""
    return (
        f"I can't post in <#{channel}>, so I'll keep you posted in a direct message. "
        "To get status cards there, invite me with `/invite @Errand`."
    )


def awaiting_approval(cost: dict[str, Any]) -> str:
    """The requester's line: why their job waits, by the reason it was held."""
    if cost.get("reason") == "kind":
        return (
            f":hourglass: {cost.get('command') or 'These'} jobs need an approver before "
            "they start; this one waits for an approver to let it start."
        )
    return (
        ":money_with_wings: This job would pass your daily budget, so it waits for an "
        "approver to let it start."
    )
