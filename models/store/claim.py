"""Claims: a worker leases the rows it is about to work on, so no other worker takes them
while the lease runs; a worker that dies loses only its lease.

Rows are picked `FOR UPDATE SKIP LOCKED`, so workers on PostgreSQL never wait on each
other's claims (SQLAlchemy renders nothing for it on SQLite, whose single writer
serializes claims anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select, update

from models.base import utcnow
from models.db import Database
from models.job import Attempt, Job, is_active, is_current_attempt
from models.status import JobStatus
from models.store.attempt import Launch

CHECK_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class DueCheck:
    """One response to check now, and when the check became due."""

    job_id: str
    response_id: str
    due_at: datetime


def claim_launches(
    db: Database, *, limit: int, lease: timedelta, job_id: str | None = None
) -> list[Launch]:
    """Lease the next attempts to start, highest priority first, then oldest; each claim
    counts as a create call about to be made.

    With `job_id`, only that job's, even when a stop was requested: a stop re-runs a
    start that may have reached the provider, to learn the response it must cancel.
    """
    now = utcnow()
    pick = _launchable(now).order_by(Job.priority.desc(), Job.created_at).limit(limit)
    if job_id is None:
        pick = pick.where(Job.stop_requested.is_(None))
    else:
        pick = pick.where(Job.id == job_id)
    with db.unit() as unit:
        ids = list(unit.session.scalars(pick.with_for_update(of=Attempt, skip_locked=True)))
        if not ids:
            return []
        unit.session.execute(
            update(Attempt)
            .where(Attempt.id.in_(ids))
            .values(claimed_until=now + lease, create_calls=Attempt.create_calls + 1)
        )
        rows = unit.session.execute(
            select(Attempt, Job).join(Job, Attempt.job_id == Job.id).where(Attempt.id.in_(ids))
        ).all()
    return [_launch(attempt, job) for attempt, job in rows]


def _launchable(now: datetime) -> Select[int]:
    """Current attempts of queued jobs with no response and no live claim."""
    return (
        select(Attempt.id)
        .join(Job, is_current_attempt())
        .where(
            Job.status == JobStatus.QUEUED.value,
            Attempt.response_id.is_(None),
            or_(Attempt.claimed_until.is_(None), Attempt.claimed_until <= now),
        )
    )


def _launch(attempt: Attempt, job: Job) -> Launch:
    return Launch(
        job.id, attempt.id, attempt.number, attempt.idempotency_key, job.input_text, job.kind
    )


def claim_due_checks(db: Database, *, limit: int) -> list[DueCheck]:
    """Lease the oldest due checks (in `next_check_at`) so no other worker takes them
    this minute."""
    now = utcnow()
    pick = (
        select(Job.id)
        .where(is_active(), Job.next_check_at <= now)
        .order_by(Job.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    with db.unit() as unit:
        rows = unit.session.execute(
            select(Job.id, Attempt.response_id, Job.next_check_at)
            .join(Attempt, is_current_attempt())
            .where(Job.id.in_(pick.scalar_subquery()), Attempt.response_id.is_not(None))
        ).all()
        ids = [row[0] for row in rows]
        if ids:
            unit.session.execute(
                update(Job).where(Job.id.in_(ids)).values(next_check_at=now + CHECK_LEASE)
            )
    return [DueCheck(job, str(response), due or now) for job, response, due in rows]
