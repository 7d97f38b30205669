"""Job lists for `/jobs`: one row per job with its status and the controls it offers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.blocks.card import status_label
from bot.blocks.controls import actions_block, card_actions
from bot.blocks.people import actor
from bot.blocks.text import clip, context, section, unping
from bot.blocks.times import timing
from models.job import Job

MAX_ROWS = 15  # 3 blocks a row stays under the 50-block message limit


def job_row(job: Job, now: datetime | None = None) -> list[dict[str, Any]]:
    """A compact line for a job plus its buttons (`now` is unused; kept for callers)."""
    line = (
        f"`{job.id}` *{job.kind}* by {actor(job.requested_by)} · {status_label(job)} · "
        f"{timing(job)}\n{unping(clip(job.input_text, 150))}"
    )
    return [section(line), *actions_block(job.id, card_actions(job))]


def job_list(
    title: str, jobs: list[Job], now: datetime | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and blocks for a list; says so plainly when it is empty."""
    if not jobs:
        return f"{title}: none", [section(f"*{title}*"), context("No jobs to show.")]
    blocks: list[dict[str, Any]] = [section(f"*{title}*")]
    for job in jobs[:MAX_ROWS]:
        blocks.extend(job_row(job))
    if len(jobs) > MAX_ROWS:
        blocks.append(context(f"…and {len(jobs) - MAX_ROWS} more."))
    return f"{title}: {len(jobs)} jobs", blocks
