"""When things happened, shown by Slack in each reader's own time zone.

A card is re-rendered only at milestones, so it never shows a running clock (which would
go stale between them): it shows when the job was asked for or started, written with
Slack's date formatting, and how long it took once it has finished.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.job import Job
from models.status import TERMINAL, JobStatus


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


def slack_date(moment: datetime) -> str:
    """Day and time, e.g. for a decision."""
    return _local_time(moment, "{date_short_pretty} {time}", f"{moment:%Y-%m-%d %H:%M} UTC")


def at_time(moment: datetime, words: str) -> str:
    """`words` and the time of day, e.g. `started 3:22 PM` for the reader."""
    return _local_time(moment, f"{words} {{time}}", f"{words} {moment:%H:%M} UTC")


def _local_time(moment: datetime, layout: str, fallback: str) -> str:
    """Slack's `<!date^…>`: shown in the reader's time zone, `fallback` where it cannot be."""
    return f"<!date^{int(moment.timestamp())}^{layout}|{fallback}>"


def timing(job: Job) -> str:
    """Queued: when it was asked for. Running or in review: when it started. Finished:
    when it started and how long it ran (or, if it never started, when it was asked for)."""
    status = JobStatus(job.status)
    started = job.started_at
    if status in TERMINAL and started and job.finished_at:
        return f"{at_time(started, 'started')} · took {elapsed(started, job.finished_at)}"
    if status == JobStatus.QUEUED or started is None:
        return at_time(job.created_at, "asked")
    return at_time(started, "started")
