"""The follow pulse: check every response that is due, many at once, none waited on.

One tick claims the due jobs from the database (a lease in `next_check_at`),
retrieves them concurrently over a pooled client, and applies each answer.
Its cost grows with the number of due checks, not with jobs in flight.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from openai.types.responses import Response
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from errand.metrics import follow_checked
from errand.runtime import Runtime, Unit
from models.base import utcnow
from models.db import is_sqlite
from models.job import Attempt, Job
from models.lifecycle import ACTIVE, JobStatus, TransitionRefused, record_event, transition
from worker.finish import apply_response
from worker.provider import ProviderError

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
TRANSIENT_DELAY = timedelta(seconds=2)
FINISHED, PENDING, ERROR = "finished", "pending", "error"


@dataclass(frozen=True)
class Due:
    """One check to make."""

    job_id: str
    response_id: str
    due_at: datetime


@dataclass(frozen=True)
class TickReport:
    """What one tick did: checks made, how late they ran, answers applied."""

    checked: int
    finished: int
    errors: int
    max_slack: float


def follow_due(runtime: Runtime, executor: ThreadPoolExecutor) -> TickReport:
    """Claim up to a batch of due checks, run them concurrently, apply the answers."""
    due = claim_due(runtime, limit=runtime.settings.follow_batch)
    if not due:
        return TickReport(0, 0, 0, 0.0)
    now = utcnow()
    if is_sqlite(runtime.engine):
        outcomes = _check_together(runtime, executor, due)
    else:
        outcomes = list(executor.map(lambda d: _check_alone(runtime, d), due))
    lateness = [(now - d.due_at).total_seconds() for d in due]
    follow_checked(lateness)
    return TickReport(len(due), outcomes.count(FINISHED), outcomes.count(ERROR), max(lateness))


def _check_alone(runtime: Runtime, due: Due) -> str:
    """Retrieve and apply in a transaction of its own, beside the tick's other checks.

    On PostgreSQL a tick's checks then wait on the database side by side,
    instead of one after another in one long transaction.
    """
    answer = _retrieve(runtime, due)
    if isinstance(answer, ProviderError):
        _check_failed(runtime, due, answer)
        return ERROR
    try:
        with runtime.unit() as unit:
            return _apply(unit, runtime, answer)
    except Exception:
        log.exception("could not apply a response", extra={"job_id": due.job_id})
        return ERROR


def _check_together(runtime: Runtime, executor: ThreadPoolExecutor, due: list[Due]) -> list[str]:
    """Retrieve concurrently, then apply every answer in one transaction.

    SQLite has one writer: one transaction with a savepoint per response (a bad
    one spoils no other) beats taking and releasing the writer lock per check.
    """
    answers = list(executor.map(lambda d: _retrieve(runtime, d), due))
    outcomes = []
    for item, answer in zip(due, answers, strict=True):
        if isinstance(answer, ProviderError):
            _check_failed(runtime, item, answer)
            outcomes.append(ERROR)
    with runtime.unit() as unit:
        for item, answer in zip(due, answers, strict=True):
            if isinstance(answer, ProviderError):
                continue
            try:
                with unit.session.begin_nested():
                    outcomes.append(_apply(unit, runtime, answer))
            except Exception:
                log.exception("could not apply a response", extra={"job_id": item.job_id})
                outcomes.append(ERROR)
    return outcomes


def _apply(unit: Unit, runtime: Runtime, response: Response) -> str:
    webhooks = runtime.settings.webhooks_enabled
    applied = apply_response(unit, runtime.kinds, response, webhooks=webhooks)
    return FINISHED if applied and applied.terminal else PENDING


def claim_due(runtime: Runtime, *, limit: int) -> list[Due]:
    """Lease the oldest due checks so no other worker takes them this minute."""
    now = utcnow()
    pick = (
        select(Job.id)
        .where(Job.status.in_([s.value for s in ACTIVE]), Job.next_check_at <= now)
        .order_by(Job.next_check_at)
        .limit(limit)
    )
    if not is_sqlite(runtime.engine):
        pick = pick.with_for_update(skip_locked=True)
    with runtime.unit() as unit:
        rows = unit.session.execute(
            select(Job.id, Attempt.response_id, Job.next_check_at)
            .join(Attempt, and_(Attempt.job_id == Job.id, Attempt.number == Job.attempts))
            .where(Job.id.in_(pick.scalar_subquery()), Attempt.response_id.is_not(None))
        ).all()
        ids = [row[0] for row in rows]
        if ids:
            unit.session.execute(
                update(Job).where(Job.id.in_(ids)).values(next_check_at=now + LEASE)
            )
    return [Due(job_id, str(response_id), due_at or now) for job_id, response_id, due_at in rows]


def _retrieve(runtime: Runtime, due: Due) -> Response | ProviderError:
    try:
        return runtime.provider.retrieve(due.response_id)
    except ProviderError as error:
        return error


def _check_failed(runtime: Runtime, due: Due, error: ProviderError) -> None:
    """A transient error only delays the next check; a lost response fails the attempt."""
    log.warning("check failed", extra={"job_id": due.job_id, "reason": error.reason})
    with runtime.unit() as unit:
        if error.transient or error.status != 404:
            wait = max(TRANSIENT_DELAY, timedelta(seconds=error.retry_after or 0))
            unit.session.execute(
                update(Job).where(Job.id == due.job_id).values(next_check_at=utcnow() + wait)
            )
            return
        _lost(unit.session, due)


def _lost(session: Session, due: Due) -> None:
    reason = f"the provider no longer knows response {due.response_id}"
    try:
        transition(
            session,
            due.job_id,
            JobStatus.FAILED,
            actor="provider",
            action="lost",
            detail=reason,
            values={"error": reason, "next_check_at": None},
            notice="failed",
        )
    except TransitionRefused as refused:
        record_event(session, due.job_id, "provider", "lost_ignored", detail=str(refused))
