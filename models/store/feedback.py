"""What people thought of a result: a 👍 or 👎 recorded as an event on the job with who
pressed it, and the comment a 👎 may add afterwards, stored with that same event.

The value is in the event's action (`feedback:positive`), so it outlives retention; the
comment is the event's free text, purged with the job's other texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from models.db import Database
from models.errors import InputRejected, JobNotFound
from models.job import Event, events, jobs
from models.store.lifecycle import record_event

PREFIX = "feedback:"
VALUES = ("positive", "negative")
COMMENT_MAX = 2_000


@dataclass(frozen=True)
class Feedback:
    """One press of a result's feedback buttons, as `errand jobs show` lists it."""

    at: datetime
    actor: str
    value: str
    comment: str | None


def record(db: Database, job_id: str, *, actor: str, value: str) -> int:
    """Store a press; returns its event's ID, which a later comment is stored with."""
    if value not in VALUES:
        raise InputRejected(f"Feedback is one of {', '.join(VALUES)}.")
    with db.unit() as unit:
        if unit.session.scalar(select(jobs.c.id).where(jobs.c.id == job_id)) is None:
            raise JobNotFound(job_id)
        return record_event(unit.session, job_id, actor, PREFIX + value)


def comment(db: Database, job_id: str, event_id: int, *, actor: str, text: str) -> bool:
    """Add `actor`'s comment to their own press, once; False when there is none to add to."""
    with db.unit() as unit:
        changed = unit.session.execute(
            update(events)
            .where(
                events.c.id == event_id,
                events.c.job_id == job_id,
                events.c.actor == actor,
                events.c.action.startswith(PREFIX),
                events.c.detail.is_(None),
            )
            .values(detail=text.strip()[:COMMENT_MAX])
        ).rowcount  # type: ignore[attr-defined]
    return bool(changed)


def of(history: list[Event]) -> list[Feedback]:
    """The feedback among a job's events, oldest first."""
    return [
        Feedback(e.at, e.actor, e.action.removeprefix(PREFIX), e.detail)
        for e in history
        if e.action.startswith(PREFIX)
    ]
