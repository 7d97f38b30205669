"""The App Home tab: the person's own recent jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.blocks.lists import MAX_ROWS, job_row
from bot.blocks.people import actor
from bot.blocks.text import context, escape, section
from bot.ids import PreferenceId
from models.job import Job


def home_view(
    user_id: str,
    jobs: list[Job],
    now: datetime | None = None,
    *,
    by_dm: bool = False,
    links: dict[str, str] | None = None,
) -> dict[str, Any]:
    """views.publish body for `user_id`, each job linked to its thread when `links` has
    it (`now` is unused; kept for callers); `by_dm` is how the person chose to hear of
    their jobs' results and decisions."""
    blocks: list[dict[str, Any]] = [
        section(f"*Your errands*, {actor(user_id)}"),
        context(
            escape("Start one with `/research <question>`, `/draft <brief>` or `/deep <question>`.")
        ),
        notify_toggle(by_dm),
        {"type": "divider"},
    ]
    for job in jobs[:MAX_ROWS]:
        blocks.extend(job_row(job, link=(links or {}).get(job.id)))
    if not jobs:
        blocks.append(section("You have no jobs yet."))
    return {"type": "home", "blocks": blocks}


def notify_toggle(by_dm: bool) -> dict[str, Any]:
    """How results and decisions reach the person, with a button to switch."""
    said = (
        "*Results and decisions:* by DM (a short note with a link to the thread)."
        if by_dm
        else "*Results and decisions:* in the job's thread, mentioning you."
    )
    button = {
        "type": "button",
        "action_id": PreferenceId.NOTIFY_BY_DM.value,
        "text": {"type": "plain_text", "text": "Mention me instead" if by_dm else "Tell me by DM"},
        "value": "off" if by_dm else "on",
    }
    return {**section(said), "accessory": button}
