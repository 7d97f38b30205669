"""Reading jobs: one job, recent ones, stuck ones, a job's history. Nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, false, func, or_, select

from models.db import Database
from models.errors import JobNotFound
from models.ids import normalize_job_id
from models.job import Event, Job, Notice, is_active
from models.kinds import KindsConfig

RECENT = 15


def get_job(db: Database, job_id: str) -> Job:
    """One job with its attempts; `JobNotFound` names the ID that was asked for."""
    wanted = normalize_job_id(job_id)
    with db.reading() as session:
        job = session.get(Job, wanted)
    if job is None:
        raise JobNotFound(wanted)
    return job


def recent(
    db: Database,
    *,
    user: str | None = None,
    status: str | None = None,
    limit: int = RECENT,
    archived: bool = True,
) -> list[Job]:
    """Newest first; only `user`'s jobs, or jobs in `status`, when given; without the
    archived ones when `archived` is False (the lists people see in Slack)."""
    query = select(Job).order_by(Job.created_at.desc()).limit(limit)
    if not archived:
        query = query.where(Job.archived_at.is_(None))
    if user is not None:
        query = query.where(Job.requested_by == user)
    if status is not None:
        query = query.where(Job.status == status)
    with db.reading() as session:
        return list(session.scalars(query))


def stuck(db: Database, kinds: KindsConfig, now: datetime) -> list[Job]:
    """Active longer than their kind's `stuck_after_seconds` (the on-call alert's rule)."""
    query = select(Job).where(stuck_clause(kinds, now)).order_by(Job.created_at)
    with db.reading() as session:
        return list(session.scalars(query))


def history(db: Database, job_id: str) -> list[Event]:
    """A job's audit trail, oldest first."""
    with db.reading() as session:
        return list(session.scalars(select(Event).where(Event.job_id == job_id).order_by(Event.id)))


def stuck_clause(kinds: KindsConfig, now: datetime) -> ColumnElement[bool]:
    """Active longer than the kind's threshold: running too long, or queued with no progress."""
    per_kind = [
        and_(
            Job.kind == kind.name,
            func.coalesce(Job.started_at, Job.created_at)
            <= now - timedelta(seconds=kind.stuck_after_seconds),
        )
        for kind in kinds.kinds.values()
    ]
    return and_(is_active(), or_(false(), *per_kind))


def counts(db: Database, statuses: Iterable[str]) -> dict[tuple[str, str], int]:
    """Jobs in these statuses by (status, kind), for the metrics scrape (the status index
    keeps a count of the few live jobs from reading the many finished ones)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(Job.status, Job.kind, func.count())
            .where(Job.status.in_(list(statuses)))
            .group_by(Job.status, Job.kind)
        ).all()
    return {(str(status), str(kind)): int(n) for status, kind, n in rows}


def undeliverable(db: Database, *, limit: int = RECENT) -> list[Job]:
    """Jobs with news that could not be delivered (given up), most recent first."""
    given_up = (
        select(Notice.job_id)
        .where(Notice.given_up_at.is_not(None))
        .group_by(Notice.job_id)
        .order_by(func.max(Notice.given_up_at).desc())
        .limit(limit)
    )
    with db.reading() as session:
        return list(session.scalars(select(Job).where(Job.id.in_(given_up.scalar_subquery()))))


def notices(db: Database, *, given_up_only: bool = False, limit: int = 200) -> list[Notice]:
    """The outbox as operators look at it: news not delivered yet, pending or given up
    (only the given-up ones with `given_up_only`), the oldest first."""
    query = select(Notice).where(Notice.delivered_at.is_(None))
    if given_up_only:
        query = query.where(Notice.given_up_at.is_not(None))
    with db.reading() as session:
        return list(session.scalars(query.order_by(Notice.id).limit(limit)))


def in_thread(db: Database, channel: str, thread_ts: str) -> Job | None:
    """The latest job whose thread this is (a follow-up there continues it)."""
    query = (
        select(Job)
        .where(Job.channel_id == channel, Job.thread_ts == thread_ts)
        .order_by(Job.created_at.desc())
        .limit(1)
    )
    with db.reading() as session:
        return session.scalars(query).first()


def by_key(db: Database, key: str) -> Job | None:
    """The job stored under an idempotency key (a request already taken), if any."""
    with db.reading() as session:
        return session.scalars(select(Job).where(Job.idempotency_key == key)).first()
