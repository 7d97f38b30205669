"""Attempts: one provider response each. Opened before any provider call; the outcome of
each create call recorded the moment it is known.

The provider's create is not idempotent (OpenAI documents no Idempotency-Key for it), so
a response is stored only while the attempt has none and the job still waits for one,
under the job's row lock, and a stored ID is never replaced: any other response that
comes to light for the attempt is an extra, which the worker cancels at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import Database
from models.errors import TransitionRefused
from models.job import Attempt, attempts, jobs
from models.status import JobStatus
from models.store.lifecycle import add_notice, record_event, transition


@dataclass(frozen=True)
class Launch:
    """A claimed start: the attempt this worker may send one create call for now."""

    job_id: str
    attempt_id: int
    attempt: int
    idempotency_key: str
    claim_token: str  # fences what this claim may write about its call
    input_text: str
    kind: str
    model: str
    # Create calls sent for the attempt before this one, and when the attempt was opened:
    # where an earlier create went unanswered, a batch it made can be looked for since then.
    earlier_creates: int = 0
    opened_at: datetime | None = None
    # A follow-up (turn 2 on): the response it continues, and the earlier turns as text
    # for when that response cannot be named (expired, or zero data retention).
    turn: int = 1
    previous_response_id: str | None = None
    earlier: str = ""
    # The job's recorded options (models.options); None for a job stored before they
    # were kept, which runs with its kind's.
    effort: str | None = None
    service_tier: str | None = None
    chosen: bool = False


class Recorded(StrEnum):
    """What storing a response the provider made did."""

    NEW = "new"  # stored now: the attempt follows this response
    KNOWN = "known"  # it already was the attempt's response (found by another path first)
    EXTRA = "extra"  # the attempt has another, or the job no longer wants one: cancel it
    FOREIGN = "foreign"  # it names no job of ours (another deployment's): leave it alone


def open_attempt(session: Session, job_id: str, number: int) -> Attempt:
    """Add attempt `number`; its idempotency key is fixed now, before any provider call."""
    attempt = Attempt(job_id=job_id, number=number, idempotency_key=attempt_key(job_id, number))
    session.add(attempt)
    return attempt


def attempt_key(job_id: str, number: int) -> str:
    """The Idempotency-Key sent with the attempt's creates. The provider does not promise
    to honour it, so nothing relies on it; it helps match requests in the provider's logs."""
    return f"errand-{job_id}-{number}-{secrets.token_hex(6)}"


def record_response(
    session: Session,
    job_id: str,
    number: int,
    response_id: str,
    status: str,
    *,
    first_check: timedelta,
) -> Recorded:
    """Store `response_id` as attempt `number`'s response, if it has none and the job is
    queued on that attempt; schedule the first check.

    The job's row is locked first, as a stop on a job with no response locks it
    (`models.store.stops`): of a cancel and a late create answer, exactly one wins.
    """
    job = session.execute(
        select(jobs.c.status, jobs.c.attempts).where(jobs.c.id == job_id).with_for_update()
    ).first()
    if job is None:
        return Recorded.FOREIGN
    if job.status != JobStatus.QUEUED or job.attempts != number:
        return _compare(session, job_id, number, response_id)
    now = utcnow()
    stored = session.execute(
        update(attempts)
        .where(
            attempts.c.job_id == job_id,
            attempts.c.number == number,
            attempts.c.response_id.is_(None),
        )
        .values(
            response_id=response_id,
            provider_status=status,
            started_at=now,
            claimed_until=None,
            claim_token=None,
        )
    ).rowcount  # type: ignore[attr-defined]
    if stored != 1:
        return _compare(session, job_id, number, response_id)
    session.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(
            next_check_at=now + first_check,
            started_at=now,
            progress_noted_at=now,
            wait_reason=None,
        )
    )
    return Recorded.NEW


def _compare(session: Session, job_id: str, number: int, response_id: str) -> Recorded:
    stored = session.scalar(
        select(attempts.c.response_id).where(
            attempts.c.job_id == job_id, attempts.c.number == number
        )
    )
    return Recorded.KNOWN if stored == response_id else Recorded.EXTRA


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


def approve_attempt(session: Session, job_id: str, number: int, approver: str) -> None:
    """An approver let the attempt start though it passes its requester's budget."""
    session.execute(
        update(attempts)
        .where(attempts.c.job_id == job_id, attempts.c.number == number)
        .values(approved_by=approver)
    )


def note_extra(db: Database, job_id: str, response_id: str, outcome: str) -> None:
    """Audit a response the job did not need (a second create that answered, a late one,
    one found through a webhook) and what its cancel did."""
    with db.unit() as unit:
        detail = f"response {response_id}: {outcome}"
        record_event(unit.session, job_id, "errand", "extra_response", detail=detail)


@dataclass(frozen=True)
class Unanswered:
    """A create that gave no response, and what the attempt does next."""

    made_nothing: bool  # the provider refused it: it does not count as uncertain
    wait: timedelta  # before the attempt may be claimed again
    action: str  # the event recorded
    detail: str  # the event's detail, in Errand's words
    provider_error: str  # the provider's own words, for the job's record
    wait_reason: str | None = None  # shown on the job's card while it waits, in our words


def release_create(db: Database, launch: Launch, outcome: Unanswered) -> None:
    """Free the attempt for a later claim; the provider's words go to the job's record.

    The lease is given back only while it is still this claim's; a create known to have
    made nothing stops counting against the attempt's two uncertain ones.
    """
    mine = attempts.c.claim_token == launch.claim_token
    values = {
        "claimed_until": case((mine, utcnow() + outcome.wait), else_=attempts.c.claimed_until),
        "claim_token": case((mine, None), else_=attempts.c.claim_token),
        "provider_error": outcome.provider_error,
    }
    if outcome.made_nothing:
        values["uncertain_creates"] = attempts.c.uncertain_creates - 1
    with db.unit() as unit:
        waiting = unit.session.execute(
            update(attempts)
            .where(attempts.c.id == launch.attempt_id, attempts.c.response_id.is_(None))
            .values(**values)
        ).rowcount  # type: ignore[attr-defined]
        if waiting:  # else a response came to light meanwhile: the job is not waiting on this
            unit.session.execute(
                update(jobs)
                .where(jobs.c.id == launch.job_id)
                .values(provider_error=outcome.provider_error)
            )
            if outcome.wait_reason:
                _tell_wait(unit.session, launch, outcome.wait_reason)
        record_event(unit.session, launch.job_id, "provider", outcome.action, detail=outcome.detail)


def _tell_wait(session: Session, launch: Launch, reason: str) -> None:
    """The job's card says why it waits: once, when it starts waiting for this reason
    (a successful create clears the reason, `record_response`)."""
    told = session.execute(
        update(jobs)
        .where(jobs.c.id == launch.job_id, jobs.c.wait_reason.is_(None))
        .values(wait_reason=reason)
    ).rowcount  # type: ignore[attr-defined]
    if told:
        add_notice(session, launch.job_id, "held", key=f"held:{launch.claim_token}")


def fail_start(db: Database, launch: Launch, reason: str, provider_error: str) -> bool:
    """The provider refused this job's request: the job fails with `reason` (Errand's
    words). False when it had settled meanwhile, or a response had come to light."""
    with db.unit() as unit:
        has_response = unit.session.scalar(
            select(attempts.c.response_id).where(attempts.c.id == launch.attempt_id)
        )
        if has_response is not None:
            return False
        try:
            transition(
                unit.session,
                launch.job_id,
                JobStatus.FAILED,
                actor="provider",
                action="start_failed",
                detail=reason,
                values={"error": reason, "provider_error": provider_error},
                notice="failed",
            )
        except TransitionRefused:
            return False
        end_attempt(
            unit.session, launch.attempt_id, reason, cost=0.0, provider_error=provider_error
        )
    return True


def end_attempt(
    session: Session,
    attempt_id: int,
    reason: str,
    *,
    cost: float | None,
    provider_error: str | None = None,
) -> None:
    """An attempt that ended without a response: no claim left on it, its cost known
    (0 when nothing was made) or left at its estimate (something may have been)."""
    values: dict[str, object] = {
        "error": reason,
        "finished_at": utcnow(),
        "claimed_until": None,
        "claim_token": None,
    }
    if provider_error is not None:
        values["provider_error"] = provider_error
    if cost is not None:
        values["cost_usd"] = cost
    session.execute(update(attempts).where(attempts.c.id == attempt_id).values(**values))
