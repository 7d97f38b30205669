"""A job's status card as Slack shows it, in plain words for HTML.

The same facts as the bot's card (`bot/blocks/card.py`, which the console may not
import): the status label and its emoji, title and requester, timing, the question,
and the footer (ID, attempt, model, cost, why it failed or was cut off). The rules are
repeated here on purpose, and `tests/test_console.py` renders both cards for the same
jobs and compares them, so a change to one that the other lacks fails a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.job import Job
from models.options import Options
from models.status import ACTIVE, CANCELABLE, RETRYABLE, TERMINAL, JobStatus

# Slack's emoji names (as the bot writes them) and the characters the console shows.
EMOJI = {
    "raised_hand": "\u270b",
    "hourglass_flowing_sand": "\u23f3",
    "gear": "\u2699\ufe0f",
    "eyes": "\U0001f440",
    "white_check_mark": "\u2705",
    "x": "\u274c",
    "no_entry_sign": "\U0001f6ab",
    "alarm_clock": "\u23f0",
    "no_entry": "\u26d4",
    "octagonal_sign": "\U0001f6d1",
    "warning": "\u26a0\ufe0f",
}
STATUS = {
    JobStatus.AWAITING_APPROVAL: ("raised_hand", "Waiting for approval to start"),
    JobStatus.QUEUED: ("hourglass_flowing_sand", "Queued"),
    JobStatus.RUNNING: ("gear", "Running"),
    JobStatus.NEEDS_REVIEW: ("eyes", "Waiting for review"),
    JobStatus.COMPLETED: ("white_check_mark", "Completed"),
    JobStatus.FAILED: ("x", "Failed"),
    JobStatus.CANCELED: ("no_entry_sign", "Canceled"),
    JobStatus.EXPIRED: ("alarm_clock", "Expired"),
    JobStatus.REJECTED: ("no_entry", "Rejected"),
}
CANCELING = ("octagonal_sign", "Canceling…")
INCOMPLETE = "incomplete:"
STOPPED = "stopped early"
PURGED = "Question and answer purged: past the retention period."


@dataclass(frozen=True)
class Label:
    """A status as the card names it: Slack's emoji name, its character, the words."""

    emoji: str
    words: str

    @property
    def char(self) -> str:
        return EMOJI[self.emoji]

    @property
    def slack(self) -> str:
        """As the bot writes it in Block Kit, e.g. `:gear: Running`."""
        return f":{self.emoji}: {self.words}"


def status_label(job: Job) -> Label:
    """What the card says the job is doing; a requested cancel shows before it lands."""
    return label_of(job.status, job.stop_requested)


def label_of(status: str, stop_requested: str | None) -> Label:
    """The label of a job in `status`, with or without a stop requested (a list row)."""
    if stop_requested and JobStatus(status) in ACTIVE:
        return Label(*CANCELING)
    return Label(*STATUS[JobStatus(status)])


def elapsed(start: datetime | None, end: datetime) -> str:
    """`2m 05s` style duration."""
    if start is None:
        return "—"
    seconds = max(int((end - start) / timedelta(seconds=1)), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def timing(job: Job) -> str:
    """Queued: when it was asked for. Running or in review: when it started. Finished:
    how long it ran (or, if it never started, when it was asked for). In UTC, as Slack
    shows a reader whose time zone it cannot tell."""
    status = JobStatus(job.status)
    started = job.started_at
    if status in TERMINAL and started and job.finished_at:
        return f"took {elapsed(started, job.finished_at)}"
    if status == JobStatus.QUEUED or started is None:
        return f"asked {job.created_at:%H:%M} UTC"
    return f"started {started:%H:%M} UTC"


def cost_label(job: Job) -> str | None:
    """`$0.26` once the provider has charged anything, `<$0.01` for a cent's fraction."""
    cost = float(job.cost_usd or 0)
    if cost <= 0:
        return None
    return "<$0.01" if cost < 0.005 else f"${cost:,.2f}"


def attempt_label(job: Job) -> str:
    """`attempt 2 of 3` within the automatic cap; past it (a person retried) `attempt 4`."""
    if job.attempts <= job.max_attempts:
        return f"attempt {job.attempts} of {job.max_attempts}"
    return f"attempt {job.attempts}"


def cut_off(job: Job) -> bool:
    """The provider stopped the answer early and what it wrote is delivered."""
    return (job.error or "").startswith(INCOMPLETE) and bool(job.output_text)


def footer(job: Job) -> list[str]:
    """The card's last line, part by part: ID, attempt, model, cost, and why it failed,
    expired or was cut off."""
    options = Options.from_json(job.options)
    parts = [f"Job {job.id}", attempt_label(job), *(options.describe() if options else [job.model])]
    cost = cost_label(job)
    if cost:
        parts.append(cost)
    if job.error and job.status in (JobStatus.FAILED, JobStatus.EXPIRED):
        parts.append(job.error)
    elif cut_off(job):
        parts.append("cut off: " + ((job.error or "").removeprefix(INCOMPLETE).strip() or STOPPED))
    return parts


def waiting(job: Job) -> str | None:
    """Why a queued job waits (its card's warning line), if it says."""
    return job.wait_reason if job.wait_reason and job.status == JobStatus.QUEUED else None


def can_cancel(job: Job) -> bool:
    """The card offers Cancel: the job can still stop and nobody asked yet."""
    return JobStatus(job.status) in CANCELABLE and not job.stop_requested


def can_retry(job: Job) -> bool:
    """The card offers Retry: it stopped, and retention left its question."""
    return JobStatus(job.status) in RETRYABLE and job.purged_at is None
