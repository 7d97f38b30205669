"""A job's plan as Slack streaming chunks: one task card per step the provider takes.

Each step of a progress notice (`models.steps`) becomes a `task_update` chunk: an ID of
ours (`step-<n>`), a title in plain words, its status, and for the answer being written
how far it got. The only outside text is a search's query, which goes into its title
cleaned, escaped, disarmed of mentions, on one line, and cut short, so a hostile query can
neither ping anyone nor break Slack's limits (256 characters a title).
"""

from __future__ import annotations

from typing import Any

from bot.blocks.text import clean, fit

JSON = dict[str, Any]
TITLE_MAX = 160  # well under Slack's 256 for a task's title
QUERY_SHOWN = 100  # characters of a search's query in its title
COMPLETE, IN_PROGRESS, ERROR = "complete", "in_progress", "error"
STATUSES = frozenset({"pending", IN_PROGRESS, COMPLETE, ERROR})
TITLES = {
    "thinking": "Thinking it through",
    "searching": "Searching the web",
    "writing": "Writing the answer",
}


def task_title(kind: str, query: str | None = None) -> str:
    """What the step does, in plain words: a search names its query."""
    title = TITLES.get(kind, "Working")
    shown = fit(" ".join(clean(str(query or "")).split()), QUERY_SHOWN).strip()
    return f"{title} for “{shown}”" if shown else title  # within TITLE_MAX, already safe


def task_id(step: JSON) -> str:
    return f"step-{int(step['n'])}"


def task_update(step: JSON, chars: int = 0, *, status: str | None = None) -> JSON:
    """One step as a task card; `status` overrides the step's own (the job's end)."""
    kind = str(step.get("kind", ""))
    now = status or str(step.get("status", IN_PROGRESS))
    chunk: JSON = {
        "type": "task_update",
        "id": task_id(step),
        "title": task_title(kind, step.get("query")),
        "status": now if now in STATUSES else IN_PROGRESS,
    }
    if kind == "writing" and chars > 0:
        chunk["output"] = (
            f"{chars:,} characters so far" if now == IN_PROGRESS else f"{chars:,} characters"
        )
    return chunk


def plan_update(title: str, *, continued: bool = False) -> JSON:
    """The plan's heading: the job's kind, and whether an earlier message holds its start."""
    heading = f"{fit(title, 60)}: what it is doing" + (", continued" if continued else "")
    return {"type": "plan_update", "title": heading}


def continued_below() -> JSON:
    """The last words of a message the plan moved on from (Slack ends streams in minutes)."""
    return {"type": "markdown_text", "text": "_Continued in the next message._"}
