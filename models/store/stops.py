"""Stop requests: a person's cancel and the deadline's expiry, recorded on the job as a
compare-and-set (the first request wins) and carried out by a worker after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import Database
from models.dispatch import Dispatch
from models.errors import TransitionRefused
from models.job import Job, is_active
from models.notifier import CARD
from models.status import ACTIVE, JobStatus
from models.store.lifecycle import add_notice, record_event, transition
from models.store.queries import get_job

BATCH = 200


@dataclass(frozen=True)
class StopRequest:
    """A stop waiting to land: what was asked, by whom, and what the provider has."""

    job_id: str
    target: JobStatus
    actor: str
    response_id: str | None
    create_calls: int


def request_cancel(db: Database, dispatch: Dispatch, job_id: str, *, actor: str) -> str:
    """Ask for a cancel; the provider response is cancelled by a worker, never in this call."""
    job = get_job(db, job_id)
    if job.status not in ACTIVE:
        raise TransitionRefused(job.id, job.status, JobStatus.CANCELED)
    with db.unit() as unit:
        if not _mark_stop(unit.session, job.id, JobStatus.CANCELED, actor):
            return _already_stopping(unit.session, job.id)
        record_event(unit.session, job.id, actor, "cancel_requested")
        add_notice(unit.session, job.id, "canceling", key=f"canceling:{job.attempts}")
        add_notice(unit.session, job.id, CARD, key=f"canceling:{job.attempts}")
        unit.later(lambda: dispatch.stop(job.id))
    return "canceling"


def expire_overdue(db: Database, dispatch: Dispatch) -> int:
    """Mark jobs past their deadline for expiry; a worker cancels them at the provider."""
    now = utcnow()
    with db.unit() as unit:
        ids = unit.session.scalars(
            select(Job.id)
            .where(is_active(), Job.deadline_at <= now, Job.stop_requested.is_(None))
            .limit(BATCH)
        ).all()
        for job_id in ids:
            if _mark_stop(unit.session, job_id, JobStatus.EXPIRED, "errand"):
                detail = "past its deadline"
                record_event(unit.session, job_id, "errand", "expire_requested", detail=detail)
                unit.later(partial(dispatch.stop, job_id))
    return len(ids)


def unlanded_stops(db: Database, *, older_than: timedelta) -> list[str]:
    """Jobs whose stop was requested a while ago and has not landed yet."""
    with db.unit() as unit:
        return list(
            unit.session.scalars(
                select(Job.id)
                .where(
                    is_active(),
                    Job.stop_requested.is_not(None),
                    Job.updated_at <= utcnow() - older_than,
                )
                .limit(BATCH)
            )
        )


def _mark_stop(session: Session, job_id: str, target: JobStatus, actor: str) -> bool:
    """The one compare-and-set for stop requests: only an active job with none yet."""
    marked: int = session.execute(
        update(Job)
        .where(Job.id == job_id, is_active(), Job.stop_requested.is_(None))
        .values(stop_requested=target.value, stop_requested_by=actor, updated_at=utcnow())
    ).rowcount  # type: ignore[attr-defined]
    return marked == 1


def _already_stopping(session: Session, job_id: str) -> str:
    current = session.scalar(select(Job.status).where(Job.id == job_id))
    if current in ACTIVE:
        return "already canceling"
    raise TransitionRefused(job_id, str(current), JobStatus.CANCELED)


def pending_stop(db: Database, job_id: str) -> StopRequest | None:
    """The job's stop request, if it is active and has one."""
    job = get_job(db, job_id)
    if job.status not in ACTIVE or not job.stop_requested:
        return None
    attempt = job.current_attempt
    return StopRequest(
        job.id,
        JobStatus(job.stop_requested),
        job.stop_requested_by or "errand",
        attempt.response_id if attempt else None,
        attempt.create_calls if attempt else 0,
    )


def stop_before_start(db: Database, stop: StopRequest) -> None:
    """End a job that never reached the provider as its stop asked (canceled or expired)."""
    with db.unit() as unit:
        try:
            transition(
                unit.session,
                stop.job_id,
                stop.target,
                actor=stop.actor,
                action=stop.target.value,
                values={"next_check_at": None},
                notice=stop.target.value,
                detail="stopped before it reached the provider",
            )
        except TransitionRefused:
            return
