"""When a job's response is checked next (`next_check_at`), and what a failed check means.

The follow pulse checks what is due; a webhook or a dropped stream makes a check due now,
a transient error pushes it out, and a response the provider lost fails the attempt.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from models.base import utcnow
from models.db import Database
from models.errors import TransitionRefused
from models.job import Attempt, Job, is_active, is_current_attempt
from models.status import JobStatus
from models.store.lifecycle import record_event, transition


def check_now(db: Database, response_id: str) -> str | None:
    """Make the check of the active job waiting on `response_id` due now; returns its ID.

    None when no active job is waiting on that response: a repeat after the finish,
    someone else's response, or one whose ID the start has not stored yet.
    """
    with db.unit() as unit:
        job_id = unit.session.scalar(
            select(Attempt.job_id)
            .join(Job, is_current_attempt())
            .where(Attempt.response_id == response_id, is_active())
        )
        if job_id is not None:
            unit.session.execute(update(Job).where(Job.id == job_id).values(next_check_at=utcnow()))
    return job_id


def holder(db: Database, response_id: str) -> str | None:
    """The job that has `response_id` stored on any of its attempts, if one has."""
    with db.unit() as unit:
        return unit.session.scalar(select(Attempt.job_id).where(Attempt.response_id == response_id))


def delay_check(db: Database, job_id: str, wait: timedelta) -> None:
    """A check that could not be made (provider busy or away) is due again after `wait`."""
    with db.unit() as unit:
        unit.session.execute(
            update(Job).where(Job.id == job_id).values(next_check_at=utcnow() + wait)
        )


def lose_response(db: Database, job_id: str, response_id: str) -> None:
    """The provider no longer knows the response: the attempt cannot end any other way."""
    reason = f"the provider no longer knows response {response_id}"
    with db.unit() as unit:
        try:
            transition(
                unit.session,
                job_id,
                JobStatus.FAILED,
                actor="provider",
                action="lost",
                detail=reason,
                values={"error": reason, "next_check_at": None},
                notice="failed",
            )
        except TransitionRefused as refused:
            record_event(unit.session, job_id, "provider", "lost_ignored", detail=str(refused))
