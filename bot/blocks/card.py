"""The status card: one message per job, updated in place by whoever sees it change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.blocks.batch import rows_field
from bot.blocks.controls import actions_block, card_actions
from bot.blocks.money import cost_label
from bot.blocks.people import actor, attempt_label
from bot.blocks.result import cut_off, cut_off_reason
from bot.blocks.text import context, fit, hyperlink, section
from bot.blocks.times import timing
from models.job import Job
from models.options import Options
from models.status import ACTIVE, JobStatus

STATUS = {
    JobStatus.AWAITING_APPROVAL: ":raised_hand: Waiting for approval to start",
    JobStatus.QUEUED: ":hourglass_flowing_sand: Queued",
    JobStatus.RUNNING: ":gear: Running",
    JobStatus.NEEDS_REVIEW: ":eyes: Waiting for review",
    JobStatus.COMPLETED: ":white_check_mark: Completed",
    JobStatus.FAILED: ":x: Failed",
    JobStatus.CANCELED: ":no_entry_sign: Canceled",
    JobStatus.EXPIRED: ":alarm_clock: Expired",
    JobStatus.REJECTED: ":no_entry: Rejected",
}
ASK_PREVIEW = 500  # of the question, escaped; quoting adds at most 2 characters a line
TITLE_MAX = 100
REASON_MAX = 300


def status_label(job: Job) -> str:
    """What the card says the job is doing; a requested cancel shows before it lands."""
    if job.stop_requested and JobStatus(job.status) in ACTIVE:
        return ":octagonal_sign: Canceling…"
    return STATUS[JobStatus(job.status)]


def card(
    job: Job, title: str, now: datetime | None = None, *, link: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and blocks: what was asked, by whom, kind, status, timing, controls,
    and `link` to the job's thread when Slack has named it (`bot.permalinks`).

    `now` is no longer used (Slack renders the times); it stays for existing callers.
    """
    label = status_label(job)
    fields = [
        f"*{fit(title, TITLE_MAX)}* for {actor(job.requested_by)}",
        f"*Status:* {label}",
        *rows_field(job),
        timing(job),
    ]
    blocks = [
        section(" · ".join(fields)),
        *(
            [context(f":warning: {fit(job.wait_reason or '', REASON_MAX)}")]
            if _waiting(job)
            else []
        ),
        section(PURGED if job.purged_at else quote(job.input_text)),
        context(_footer(job) + thread_link(link)),
        *actions_block(job.id, card_actions(job)),
    ]
    return f"{fit(title, TITLE_MAX)} job {job.id}: {label}", blocks


PURGED = "_Question and answer purged: past the retention period._"


def thread_link(link: str | None) -> str:
    """` · Open thread`, linked, after a job's facts (nothing without a link)."""
    return f" · {hyperlink(link, 'Open thread')}" if link else ""


def _waiting(job: Job) -> bool:
    return bool(job.wait_reason) and job.status == JobStatus.QUEUED


def quote(text: str) -> str:
    """The ask as a block quote, every line quoted, escaped and mentions disarmed."""
    lines = fit(text, ASK_PREVIEW).splitlines()
    return "\n".join(f"> {line}" for line in lines) if "".join(lines).strip() else "> _(empty)_"


def options_named(job: Job) -> list[str]:
    """What the job runs with and why (`model gpt-5-mini: channel default`); the model
    alone for a job stored before its options were kept."""
    options = Options.from_json(job.options)
    return options.describe() if options else [job.model]


def _footer(job: Job) -> str:
    # A follow-up's card counts turns; its attempts count all turns' and would mislead.
    turn = f"turn {job.turn}" if job.turn_number > 1 else attempt_label(job)
    parts = [f"Job `{job.id}`", turn, *options_named(job)]
    cost = cost_label(job)
    if cost:
        parts.append(cost)
    if job.error and job.status in (JobStatus.FAILED, JobStatus.EXPIRED):
        parts.append(fit(job.error, REASON_MAX))
    elif cut_off(job):
        parts.append(fit(cut_off_reason(job), REASON_MAX))
    return " · ".join(parts)
