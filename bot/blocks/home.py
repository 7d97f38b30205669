"""The App Home tab: the person's own recent jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.blocks.lists import MAX_ROWS, job_row
from bot.blocks.people import actor
from bot.blocks.text import context, escape, section
from models.job import Job


def home_view(
    user_id: str,
    jobs: list[Job],
    now: datetime | None = None,
    *,
    links: dict[str, str] | None = None,
) -> dict[str, Any]:
    """views.publish body for `user_id`, each job linked to its thread when `links` has
    it (`now` is unused; kept for callers)."""
    blocks: list[dict[str, Any]] = [
        section(f"*Your errands*, {actor(user_id)}"),
        context(
            escape("Start one with `/research <question>`, `/draft <brief>` or `/deep <question>`.")
        ),
        {"type": "divider"},
    ]
    for job in jobs[:MAX_ROWS]:
        blocks.extend(job_row(job, link=(links or {}).get(job.id)))
    if not jobs:
        blocks.append(section("You have no jobs yet."))
    return {"type": "home", "blocks": blocks}
