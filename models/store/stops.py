"""Stop requests: a person's cancel and the deadline's expiry.

A job with no response at the provider stops at once, in the request's own transaction,
whatever the provider is doing: nothing is created to be cancelled, and a create still in
flight is cancelled when it answers (`models.store.attempt.record_response` refuses it).
A job with a response is marked as a compare-and-set (the first request wins), and a
worker cancels the response after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import Database
from models.dispatch import Dispatch
from models.errors import TransitionRefused
from models.job import Attempt, Job, attempts, is_active, is_current_attempt
from models.notifier import CARD
from models.status import ACTIVE, CANCELABLE, JobStatus
from models.store.budget import close_request
from models.store.lifecycle import add_notice, record_event, transition
from models.store.queries import get_job

BATCH = 200
UNSTARTED = "stopped before it reached the provider"
STREAM_LOST = "stopped; its response's stream had ended with its worker, and nothing is kept"


@dataclass(frozen=True)
class StopRequest:
    """A stop waiting to land: what was asked, by whom, and what the provider has."""

    job_id: str
    target: JobStatus
    actor: str
    response_id: str | None
    lane: str = ""  # a batch lane job's response_id is its batch's
    # Zero data retention: the response lives in a worker's stream, claimed until then;
    # that worker closes the stream (`models.store.hold`), or nobody holds it any more.
    held_until: datetime | None = None


def request_cancel(db: Database, dispatch: Dispatch, job_id: str, *, actor: str) -> str:
    """Cancel a job: "canceled" when it had no response (done here), "canceling" when a
    worker now cancels its response, "already canceling" for a repeat."""
    job = get_job(db, job_id)
    if job.status not in CANCELABLE:
        raise TransitionRefused(job.id, job.status, JobStatus.CANCELED)
    with db.unit() as unit:
        status, response_id = _locked(unit.session, job.id)
        if status in CANCELABLE and response_id is None:
            record_event(unit.session, job.id, actor, "cancel_requested")
            _stop_unstarted(unit.session, job.id, JobStatus.CANCELED, actor)
            return "canceled"
        if not _mark_stop(unit.session, job.id, JobStatus.CANCELED, actor):
            return _already_stopping(unit.session, job.id)
        record_event(unit.session, job.id, actor, "cancel_requested")
        add_notice(unit.session, job.id, "canceling", key=f"canceling:{job.attempts}")
        add_notice(unit.session, job.id, CARD, key=f"canceling:{job.attempts}")
        unit.later(lambda: dispatch.stop(job.id))
    return "canceling"


def expire_overdue(db: Database, dispatch: Dispatch) -> int:
    """Expire jobs past their deadline: at once when they have no response, else marked
    for a worker to cancel them at the provider."""
    now = utcnow()
    with db.unit() as unit:
        ids = unit.session.scalars(
            select(Job.id)
            .where(is_active(), Job.deadline_at <= now, Job.stop_requested.is_(None))
            .limit(BATCH)
        ).all()
        for job_id in ids:
            status, response_id = _locked(unit.session, job_id)
            if status in ACTIVE and response_id is None:
                _stop_unstarted(unit.session, job_id, JobStatus.EXPIRED, "errand")
            elif _mark_stop(unit.session, job_id, JobStatus.EXPIRED, "errand"):
                detail = "past its deadline"
                record_event(unit.session, job_id, "errand", "expire_requested", detail=detail)
                unit.later(partial(dispatch.stop, job_id))
    return len(ids)


def _locked(session: Session, job_id: str) -> tuple[str, str | None]:
    """The job's status, with its row locked, and then its response, if any: a create's
    answer stored meanwhile (it locks the same row first) is seen, or waits for us."""
    status = session.scalar(select(Job.status).where(Job.id == job_id).with_for_update())
    response_id = session.scalar(
        select(Attempt.response_id).join(Job, is_current_attempt()).where(Job.id == job_id)
    )
    return str(status), response_id


def _stop_unstarted(session: Session, job_id: str, target: JobStatus, actor: str) -> None:
    """End a job that has no response as its stop asks; its attempt made nothing to pay.
    A request to start it that the approvers still hold is closed."""
    change = transition(
        session,
        job_id,
        target,
        actor=actor,
        action=target.value,
        values={
            "next_check_at": None,
            "stop_requested": target.value,
            "stop_requested_by": actor,
            "wait_reason": None,
        },
        notice=target.value,
        detail=UNSTARTED,
    )
    if change.from_status == JobStatus.AWAITING_APPROVAL:
        close_request(session, job_id)
    number = select(Job.attempts).where(Job.id == job_id).scalar_subquery()
    session.execute(
        update(attempts)
        .where(attempts.c.job_id == job_id, attempts.c.number == number)
        .values(finished_at=utcnow(), claimed_until=None, claim_token=None, cost_usd=0.0)
    )


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
    held_until = None
    if attempt is not None and attempt.response_id and attempt.claim_token:
        held_until = attempt.claimed_until or utcnow()
    return StopRequest(
        job.id,
        JobStatus(job.stop_requested),
        job.stop_requested_by or "errand",
        attempt.response_id if attempt else None,
        job.lane,
        held_until,
    )


def stop_before_start(db: Database, stop: StopRequest) -> None:
    """End a job that never reached the provider as its stop asked (canceled or expired)."""
    with db.unit() as unit:
        _land(unit.session, stop, UNSTARTED)


def stop_unheld(db: Database, stop: StopRequest) -> None:
    """End a held job whose worker is gone as its stop asked: its stream ended with the
    worker, and the provider keeps nothing to cancel."""
    with db.unit() as unit:
        if not _land(unit.session, stop, STREAM_LOST):
            return
        number = select(Job.attempts).where(Job.id == stop.job_id).scalar_subquery()
        unit.session.execute(
            update(attempts)
            .where(attempts.c.job_id == stop.job_id, attempts.c.number == number)
            .values(finished_at=utcnow(), claimed_until=None, claim_token=None)
        )


def _land(session: Session, stop: StopRequest, detail: str) -> bool:
    """Move the job to the stop's status with nothing to cancel; False if it has moved on."""
    try:
        transition(
            session,
            stop.job_id,
            stop.target,
            actor=stop.actor,
            action=stop.target.value,
            values={"next_check_at": None},
            notice=stop.target.value,
            detail=detail,
        )
    except TransitionRefused:
        return False
    return True
