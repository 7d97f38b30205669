"""The follow pulse: check every response that is due, many at once, none waited on.

A tick claims due jobs from the database (a lease in `next_check_at`) and hands
them to the follow pool, which retrieves each over a pooled client and applies
the answer. On PostgreSQL a tick does not wait for its checks: it tops the pool
up to `follow_batch` checks in flight and returns, so the next tick (every
period, or at once when a webhook wakes it) starts checks that have come due
while slower ones still run. When each tick waited for all of its checks, a check
that fell due during a 2-second tick waited for the slowest of them.
Its cost grows with the number of due checks, not with jobs in flight.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
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
    """A tick's checks started, and since the last tick: jobs finished, errors, and how
    late the latest checks started (seconds)."""

    checked: int
    finished: int
    errors: int
    max_slack: float


class Follower:
    """The follow beat: its pool, and what its checks did since the last tick."""

    def __init__(
        self, runtime: Runtime, executor: ThreadPoolExecutor, on_finished: Callable[[], None]
    ) -> None:
        self._runtime = runtime
        self._executor = executor
        self._on_finished = on_finished
        self._lock = threading.Lock()
        self._in_flight = 0
        self._finished = self._errors = 0
        self._slack = 0.0

    def tick(self) -> TickReport:
        """Claim what is due, up to what the pool may hold, and report."""
        sqlite = is_sqlite(self._runtime.engine)
        started = self._together() if sqlite else self._top_up()
        with self._lock:
            report = TickReport(started, self._finished, self._errors, self._slack)
            self._finished = self._errors = 0
            self._slack = 0.0
        return report

    def _top_up(self) -> int:
        room = self._runtime.settings.follow_batch - self._in_flight
        due = claim_due(self._runtime, limit=room) if room > 0 else []
        with self._lock:
            self._in_flight += len(due)
        for item in due:
            self._executor.submit(self._check, item)
        return len(due)

    def _check(self, due: Due) -> None:
        """One check on the pool; nobody reads its future, so it logs its own failure."""
        self._started([due])
        outcome = ERROR
        try:
            outcome = _check_alone(self._runtime, due)
        except Exception:  # the lease runs out and a later tick checks the job again
            log.exception("check failed", extra={"job_id": due.job_id})
        finally:
            with self._lock:
                self._in_flight -= 1
            self._ended([outcome])

    def _together(self) -> int:
        due = claim_due(self._runtime, limit=self._runtime.settings.follow_batch)
        if due:
            self._started(due)
            self._ended(_check_together(self._runtime, self._executor, due))
        return len(due)

    def _started(self, due: list[Due]) -> None:
        lateness = [(utcnow() - d.due_at).total_seconds() for d in due]
        follow_checked(lateness)
        with self._lock:
            self._slack = max(self._slack, *lateness)

    def _ended(self, outcomes: list[str]) -> None:
        with self._lock:
            self._finished += outcomes.count(FINISHED)
            self._errors += outcomes.count(ERROR)
        if FINISHED in outcomes:  # their results go out now, not at the notify pulse's beat
            self._on_finished()


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
