"""Job lists for `/jobs`: one row per job with its status and the controls it offers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.blocks.card import PURGED, status_label, thread_link
from bot.blocks.controls import actions_block, card_actions
from bot.blocks.money import cost_label
from bot.blocks.people import actor
from bot.blocks.text import context, fit, section
from bot.blocks.times import timing
from models.job import Job

# A row is at most 2 blocks (a section and its buttons): 15 rows, a title and a
# "more" line stay under the 50-block message limit (and the 100 of a view).
MAX_ROWS = 15
ASK_PREVIEW = 150


def job_row(
    job: Job, now: datetime | None = None, *, link: str | None = None
) -> list[dict[str, Any]]:
    """A compact line for a job (its facts and a link to its thread) plus its buttons
    (`now` is unused; kept for callers)."""
    facts = [status_label(job), timing(job), cost_label(job)]
    line = (
        f"`{job.id}` *{fit(job.kind, 40)}* by {actor(job.requested_by)} · "
        f"{' · '.join(f for f in facts if f)}{thread_link(link)}\n{_asked(job)}"
    )
    return [section(line), *actions_block(job.id, card_actions(job, listed=True))]


def _asked(job: Job) -> str:
    return PURGED if job.purged_at else fit(job.input_text, ASK_PREVIEW)


def job_list(
    title: str,
    jobs: list[Job],
    now: datetime | None = None,
    *,
    links: dict[str, str] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and blocks for a list, each job linked to its thread when `links`
    has it; says so plainly when it is empty."""
    heading = section(f"*{fit(title, 100)}*")
    if not jobs:
        return f"{fit(title, 100)}: none", [heading, context("No jobs to show.")]
    blocks: list[dict[str, Any]] = [heading]
    for job in jobs[:MAX_ROWS]:
        blocks.extend(job_row(job, link=(links or {}).get(job.id)))
    if len(jobs) > MAX_ROWS:
        blocks.append(context(f"…and {len(jobs) - MAX_ROWS} more."))
    return f"{fit(title, 100)}: {len(jobs)} jobs", blocks
