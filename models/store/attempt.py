"""Attempts: one provider response each. Opened before any provider call, with the
idempotency key fixed; the outcome of the create call recorded the moment it is known."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import Database
from models.errors import TransitionRefused
from models.job import Attempt, attempts, jobs
from models.status import JobStatus
from models.store.lifecycle import add_notice, record_event, transition


@dataclass(frozen=True)
class Launch:
    """A claimed start: the attempt this worker may create a response for now."""

    job_id: str
    attempt_id: int
    attempt: int
    idempotency_key: str
    input_text: str
    kind: str


def open_attempt(session: Session, job_id: str, number: int) -> Attempt:
    """Add attempt `number`; its idempotency key is fixed now, before any provider call."""
    attempt = Attempt(job_id=job_id, number=number, idempotency_key=attempt_key(job_id, number))
    session.add(attempt)
    return attempt


def attempt_key(job_id: str, number: int) -> str:
    """The provider's Idempotency-Key for this attempt: a retried create finds the first."""
    return f"errand-{job_id}-{number}-{secrets.token_hex(6)}"


def record_created(
    session: Session, launch: Launch, response_id: str, status: str, *, first_check: timedelta
) -> bool:
    """Store the response ID and schedule the first check; True when a stop was requested
    meanwhile (the caller then dispatches it, after commit)."""
    now = utcnow()
    session.execute(
        update(attempts)
        .where(attempts.c.id == launch.attempt_id)
        .values(response_id=response_id, provider_status=status, started_at=now, claimed_until=None)
    )
    stop = session.execute(
        update(jobs)
        .where(jobs.c.id == launch.job_id)
        .values(
            next_check_at=now + first_check,
            started_at=now,
            progress_noted_at=now,
            wait_reason=None,
        )
        .returning(jobs.c.stop_requested)
    ).scalar_one()
    return stop is not None


def note_started(session: Session, job_id: str, response_id: str, detail: str) -> None:
    """The "started" event and the thread's "started" milestone."""
    record_event(session, job_id, "errand", "started", detail=detail)
    add_notice(
        session,
        job_id,
        "started",
        key=f"started:{response_id}",
        detail={"response_id": response_id},
    )


def delay_start(db: Database, launch: Launch, reason: str, wait: timedelta) -> None:
    """A transient create failure: the attempt is free to launch again after `wait`."""
    with db.unit() as unit:
        unit.session.execute(
            update(attempts)
            .where(attempts.c.id == launch.attempt_id)
            .values(claimed_until=utcnow() + wait, error=reason)
        )
        record_event(unit.session, launch.job_id, "provider", "start_delayed", detail=reason)


def fail_start(db: Database, launch: Launch, reason: str) -> bool:
    """A permanent create failure fails the job; False when it had already settled."""
    with db.unit() as unit:
        try:
            transition(
                unit.session,
                launch.job_id,
                JobStatus.FAILED,
                actor="provider",
                action="start_failed",
                detail=reason,
                values={"error": reason},
                notice="failed",
            )
        except TransitionRefused:
            return False
        unit.session.execute(
            update(attempts)
            .where(attempts.c.id == launch.attempt_id)
            .values(error=reason, finished_at=utcnow())
        )
    return True
