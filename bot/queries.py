"""Read-only job lookups for lists (`/jobs`, App Home)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from errand.jobs import stuck_clause
from errand.runtime import Runtime
from models.job import Job

LIMIT = 15


def recent(runtime: Runtime, *, user: str | None = None, limit: int = LIMIT) -> list[Job]:
    """Newest first; only `user`'s jobs when given."""
    query = select(Job).order_by(Job.created_at.desc()).limit(limit)
    if user is not None:
        query = query.where(Job.requested_by == user)
    with runtime.unit() as unit:
        return list(unit.session.scalars(query))


def stuck(runtime: Runtime, now: datetime) -> list[Job]:
    """Active longer than their kind's `stuck_after_seconds` (the on-call alert's rule)."""
    query = select(Job).where(stuck_clause(runtime.kinds, now)).order_by(Job.created_at)
    with runtime.unit() as unit:
        return list(unit.session.scalars(query))
