"""What a batch job says in Slack: its rows' progress on the card, and the line that
comes with its results file."""

from __future__ import annotations

from bot.blocks.text import fit
from models.batch import progress_line
from models.job import Job
from models.status import JobStatus

REASON_MAX = 1_500
ICONS = {
    JobStatus.COMPLETED: ":bar_chart:",
    JobStatus.CANCELED: ":no_entry_sign:",
    JobStatus.EXPIRED: ":alarm_clock:",
    JobStatus.FAILED: ":x:",
}


def rows_field(job: Job) -> list[str]:
    """`*Rows:* 120 of 200 rows done` for the card's first line; nothing for other lanes."""
    line = progress_line(job.output)
    return [f"*Rows:* {line}"] if line else []


def results_comment(job: Job) -> str:
    """The message the results file is posted with: the summary (rows done and failed, the
    cost at batch prices) and, for a batch that did not complete, why."""
    icon = ICONS.get(JobStatus(job.status), ":bar_chart:")
    line = f"{icon} Results of job {job.id}: {job.output_text or 'no summary'}"
    if job.error:
        line += f"\n{fit(job.error, REASON_MAX)}"
    return line
