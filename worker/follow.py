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
from datetime import timedelta

from openai.types.responses import Response
from sqlalchemy.orm import Session

from models.base import utcnow
from models.batch import LANE, BatchSeen
from models.store.batch import apply_batch
from models.store.checks import delay_check, lose_response
from models.store.claim import DueCheck, claim_due_checks
from worker.answers import apply
from worker.batches import look
from worker.context import Context
from worker.metrics import follow_checked
from worker.provider import ProviderError
from worker.responses import settle_strays

log = logging.getLogger(__name__)

TRANSIENT_DELAY = timedelta(seconds=2)
APPLY_TOGETHER = 20  # answers per transaction on SQLite: a few ms of the writer's lock
FINISHED, PENDING, ERROR = "finished", "pending", "error"


@dataclass(frozen=True)
class TickReport:
    """A tick's checks started, and since the last tick: jobs finished, errors, and how
    late the latest checks started (seconds)."""

    checked: int
    finished: int
    errors: int
    max_slack: float


class Follower:
    """The follow pulse: its pool, and what its checks did since the last tick."""

    def __init__(
        self, ctx: Context, executor: ThreadPoolExecutor, on_finished: Callable[[], None]
    ) -> None:
        self._ctx = ctx
        self._executor = executor
        self._on_finished = on_finished
        self._batch = ctx.settings.follow_batch
        self._lock = threading.Lock()
        self._in_flight = 0
        self._finished = self._errors = 0
        self._slack = 0.0

    def tick(self) -> TickReport:
        """Claim what is due, up to what the pool may hold, and report; then settle the
        responses webhooks told of that no job holds (`worker.responses`).

        SQLite has one writer: there a tick applies its answers in one transaction
        (`_together`) instead of taking the writer's lock once per check.
        """
        started = self._together() if self._ctx.db.sqlite else self._top_up()
        settle_strays(self._ctx)
        with self._lock:
            report = TickReport(started, self._finished, self._errors, self._slack)
            self._finished = self._errors = 0
            self._slack = 0.0
        return report

    def _top_up(self) -> int:
        room = self._batch - self._in_flight
        due = claim_due_checks(self._ctx.db, limit=room) if room > 0 else []
        with self._lock:
            self._in_flight += len(due)
        for item in due:
            self._executor.submit(self._check, item)
        return len(due)

    def _check(self, due: DueCheck) -> None:
        """One check on the pool; nobody reads its future, so it logs its own failure."""
        self._started([due])
        outcome = ERROR
        try:
            outcome = _check_alone(self._ctx, due)
        except Exception:  # the lease runs out and a later tick checks the job again
            log.exception("check failed", extra={"job_id": due.job_id})
        finally:
            with self._lock:
                self._in_flight -= 1
            self._ended([outcome])

    def _together(self) -> int:
        due = claim_due_checks(self._ctx.db, limit=self._batch)
        if due:
            self._started(due)
            self._ended(_check_together(self._ctx, self._executor, due))
        return len(due)

    def _started(self, due: list[DueCheck]) -> None:
        lateness = [(utcnow() - d.due_at).total_seconds() for d in due]
        follow_checked(lateness)
        with self._lock:
            self._slack = max(self._slack, *lateness)

    def _ended(self, outcomes: list[str]) -> None:
        with self._lock:
            self._finished += outcomes.count(FINISHED)
            self._errors += outcomes.count(ERROR)
        if FINISHED in outcomes:  # their results go out now, not at the notify pulse's period
            self._on_finished()


def _check_alone(ctx: Context, due: DueCheck) -> str:
    """Retrieve and apply in a transaction of its own, beside the tick's other checks.

    On PostgreSQL a tick's checks then wait on the database side by side,
    instead of one after another in one long transaction.
    """
    answer = _retrieve(ctx, due)
    if isinstance(answer, ProviderError):
        _check_failed(ctx, due, answer)
        return ERROR
    try:
        with ctx.db.unit() as unit:
            return _apply(ctx, unit.session, answer)
    except Exception:
        log.exception("could not apply a response", extra={"job_id": due.job_id})
        return ERROR


def _check_together(ctx: Context, executor: ThreadPoolExecutor, due: list[DueCheck]) -> list[str]:
    """Retrieve concurrently, then apply the answers `APPLY_TOGETHER` to a transaction.

    One transaction for a whole tick held SQLite's writer lock while hundreds of
    answers were applied, and a slash command arriving meanwhile waited for all of
    them before it was acked; a few at a time let it in between."""
    answers = list(executor.map(lambda d: _retrieve(ctx, d), due))
    outcomes = []
    for item, answer in zip(due, answers, strict=True):
        if isinstance(answer, ProviderError):
            _check_failed(ctx, item, answer)
            outcomes.append(ERROR)
    fetched = [
        (d, a) for d, a in zip(due, answers, strict=True) if not isinstance(a, ProviderError)
    ]
    for start in range(0, len(fetched), APPLY_TOGETHER):
        outcomes += _apply_together(ctx, fetched[start : start + APPLY_TOGETHER])
    return outcomes


def _apply_together(
    ctx: Context, fetched: list[tuple[DueCheck, Response | BatchSeen]]
) -> list[str]:
    """Apply a few answers in one transaction, with a savepoint per response so a bad
    one spoils no other."""
    outcomes = []
    with ctx.db.unit() as unit:
        for item, answer in fetched:
            try:
                with unit.session.begin_nested():
                    outcomes.append(_apply(ctx, unit.session, answer))
            except Exception:
                log.exception("could not apply a response", extra={"job_id": item.job_id})
                outcomes.append(ERROR)
    return outcomes


def _apply(ctx: Context, session: Session, answer: Response | BatchSeen) -> str:
    webhooks = ctx.settings.webhooks_enabled
    if isinstance(answer, BatchSeen):
        applied = apply_batch(session, ctx.kinds, answer, webhooks=webhooks)
    else:
        applied = apply(session, ctx.kinds, answer, webhooks=webhooks)
    return FINISHED if applied and applied.terminal else PENDING


def _retrieve(ctx: Context, due: DueCheck) -> Response | BatchSeen | ProviderError:
    if due.lane == LANE:
        return look(ctx, due.job_id, due.response_id)
    try:
        return ctx.provider.retrieve(due.response_id)
    except ProviderError as error:
        return error


def _check_failed(ctx: Context, due: DueCheck, error: ProviderError) -> None:
    """A transient error only delays the next check; a lost response fails the attempt."""
    log.warning("check failed", extra={"job_id": due.job_id, "reason": error.reason})
    if error.transient or error.status != 404:
        wait = max(TRANSIENT_DELAY, timedelta(seconds=error.retry_after or 0))
        delay_check(ctx.db, due.job_id, wait)
        return
    lose_response(ctx.db, due.job_id, due.response_id)
