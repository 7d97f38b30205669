"""The seam between the job lifecycle and whoever tells people about it (Slack, logs).

A status change writes a notice row in its own transaction; delivery reads
those rows afterwards, in order, and retries them, so a notifier outage
delays messages but never loses or reorders them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Row, case, func, or_, select, update
from sqlalchemy.orm import Session, lazyload

from errand.metrics import milestone_delivered
from models.base import utcnow
from models.job import Job, Notice
from models.lifecycle import TERMINAL, JobStatus
from models.tables import notices

if TYPE_CHECKING:
    from errand.runtime import Runtime

log = logging.getLogger(__name__)

CLAIM = timedelta(seconds=60)
# Under a backlog, jobs with a result to tell go first, then the oldest news: a
# person waiting for an answer matters more than another job's "started" line.
RESULTS = frozenset({s.value for s in TERMINAL} | {JobStatus.NEEDS_REVIEW.value})
_with_a_result = func.max(case((Notice.milestone.in_(sorted(RESULTS)), 1), else_=0))
# Two jobs' news per notify thread: a result that comes in during a notify tick
# waits for that tick, and a 500-job tick of "queued" and "running" news took
# 0.5-2 s while jobs were launching.
BATCH = 64
# A notify tick stops starting deliveries after this long and hands the rest back,
# so a slow Slack cannot keep the worker's other pulses (follow, launch) waiting.
BUDGET_SECONDS = 2.0


class NotifyLater(Exception):
    """The notifier could not deliver now (rate limit, outage); try again after `retry_after`."""

    def __init__(
        self, reason: str, retry_after: float = 5.0, progress: dict[str, Any] | None = None
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.progress = progress or {}


@dataclass(frozen=True)
class Milestone:
    """One notice with the job as it is now: renderers show the latest state."""

    notice_id: int
    name: str
    detail: dict[str, Any]
    job: Job
    due_at: datetime  # when the notice became due: how long it waited, if late
    # False when a later milestone of the same job follows in this delivery: a
    # notifier that re-renders the job's whole state (a status card) can skip it.
    last: bool = True


class Notifier(Protocol):
    """Delivers a milestone; returns job fields to store (e.g. the status message's ts)."""

    def notify(self, milestone: Milestone) -> dict[str, Any]: ...

    def alert(self, text: str) -> None:
        """Tell on-call about something that is not one job's (best effort)."""


class LogNotifier:
    """The notifier when no Slack is configured: a structured log line per milestone."""

    def notify(self, milestone: Milestone) -> dict[str, Any]:
        job = milestone.job
        log.info(
            "job %s: %s",
            job.id,
            milestone.name,
            extra={"job_id": job.id, "milestone": milestone.name, "status": job.status},
        )
        return {}

    def alert(self, text: str) -> None:
        log.warning("on-call alert: %s", text, extra={"alert": text})


@dataclass(frozen=True)
class Outcome:
    """How one notice went: delivered (with job fields to store) or to be tried later."""

    notice_id: int
    job_id: str
    changes: dict[str, Any] | None = None
    wait: float | None = None
    error: str | None = None
    progress: dict[str, Any] | None = None


@dataclass(frozen=True)
class Delivery:
    """What one notify tick did, and how long its oldest notice had waited to be sent."""

    delivered: int
    late: float


def deliver_due(runtime: Runtime, executor: Executor, *, batch: int = BATCH) -> Delivery:
    """The notify pulse: claim due notices in one transaction, send them, settle in one more.

    Jobs go in parallel; each job's notices go in order, and the first that
    must wait holds back the ones after it, so nobody sees "completed" before
    "started".
    """
    claimed = _claim_batch(runtime, batch)
    if not claimed:
        return Delivery(0, 0.0)
    now = utcnow()
    late = max((now - group[0].due_at).total_seconds() for group in claimed)
    until = time.monotonic() + BUDGET_SECONDS
    outcomes = [
        o
        for job_outcomes in executor.map(
            lambda items: _deliver_in_order(runtime, items, until), claimed
        )
        for o in job_outcomes
    ]
    _settle(runtime, outcomes)
    return Delivery(sum(1 for o in outcomes if o.wait is None), late)


def _claim_batch(runtime: Runtime, batch: int) -> list[list[Milestone]]:
    now = utcnow()
    with runtime.unit() as unit:
        job_ids = unit.session.scalars(
            select(Notice.job_id)
            .where(
                Notice.delivered_at.is_(None),
                Notice.next_try_at <= now,
                or_(Notice.claimed_until.is_(None), Notice.claimed_until <= now),
            )
            .group_by(Notice.job_id)
            .order_by(_with_a_result.desc(), func.min(Notice.id))
            .limit(batch)
        ).all()
        if not job_ids:
            return []
        pending = unit.session.execute(
            select(notices)
            .where(notices.c.job_id.in_(job_ids), notices.c.delivered_at.is_(None))
            .order_by(notices.c.job_id, notices.c.id)
        ).all()
        jobs = _jobs(unit.session, job_ids, alerts=any(n.milestone == "stuck" for n in pending))
        claimed_order = {job_id: index for index, job_id in enumerate(job_ids)}  # results first
        groups = sorted(_due_prefixes(pending, jobs, now), key=lambda g: claimed_order[g[0].job.id])
        ids = [m.notice_id for group in groups for m in group]
        unit.session.execute(
            update(Notice)
            .where(Notice.id.in_(ids))
            .values(claimed_until=now + CLAIM, tries=Notice.tries + 1)
        )
        return groups


def _jobs(session: Session, ids: Sequence[str], *, alerts: bool) -> dict[str, Job]:
    """The jobs as they are now. Their attempts are loaded only for an on-call alert,
    which names the provider response; for every other notice they were a second
    query and a few objects per job, for nothing."""
    query = select(Job).where(Job.id.in_(ids))
    if not alerts:
        query = query.options(lazyload(Job.attempt_rows))
    return {job.id: job for job in session.scalars(query)}


def _due_prefixes(
    pending: Sequence[Row[Any]], jobs: dict[str, Job], now: datetime
) -> list[list[Milestone]]:
    """Per job, the notices from its oldest up to the first one that is not yet due."""
    groups: dict[str, list[Milestone]] = {}
    blocked: set[str] = set()
    for notice in pending:
        if notice.job_id in blocked:
            continue
        claimed = notice.claimed_until is not None and notice.claimed_until > now
        if notice.next_try_at > now or claimed:
            blocked.add(notice.job_id)
            continue
        groups.setdefault(notice.job_id, []).append(
            Milestone(
                notice.id,
                notice.milestone,
                dict(notice.detail or {}),
                jobs[notice.job_id],
                notice.next_try_at,
            )
        )
    return [
        [replace(m, last=index == len(group) - 1) for index, m in enumerate(group)]
        for group in groups.values()
    ]


def _deliver_in_order(runtime: Runtime, items: list[Milestone], until: float) -> list[Outcome]:
    """A job's milestones in order; past the tick's budget the rest wait for the next tick."""
    outcomes: list[Outcome] = []
    for index, milestone in enumerate(items):
        if time.monotonic() > until:
            return outcomes + _hand_back(items[index:])
        outcome = _deliver_one(runtime.notifier, milestone)
        milestone_delivered(milestone, ok=outcome.wait is None)
        outcomes.append(outcome)
        if outcome.wait is not None:
            return outcomes + _hand_back(items[index + 1 :])
        for key, value in (outcome.changes or {}).items():
            setattr(milestone.job, key, value)
    return outcomes


def _hand_back(items: list[Milestone]) -> list[Outcome]:
    """Undelivered, unclaimed and due again at the next tick, in the same order."""
    return [Outcome(m.notice_id, m.job.id, wait=0.0) for m in items]


def _deliver_one(notifier: Notifier, milestone: Milestone) -> Outcome:
    job_id = milestone.job.id
    try:
        return Outcome(milestone.notice_id, job_id, changes=notifier.notify(milestone))
    except NotifyLater as later:
        progress = {**milestone.detail, **later.progress}
        return Outcome(
            milestone.notice_id, job_id, wait=later.retry_after, error=str(later), progress=progress
        )
    except Exception as exc:
        log.exception("notice failed", extra={"job_id": job_id, "milestone": milestone.name})
        return Outcome(milestone.notice_id, job_id, wait=30.0, error=f"{type(exc).__name__}: {exc}")


def _settle(runtime: Runtime, outcomes: list[Outcome]) -> None:
    """Record a tick's outcomes as bulk updates by primary key: a few round trips, not
    one per notice, so a busy tick does not hold its pulse on the settling."""
    now = utcnow()
    settled = [{"id": o.notice_id, **_notice_values(o, now)} for o in outcomes]
    jobs: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:  # in order: a job's later delivery wins, as it would alone
        jobs.setdefault(outcome.job_id, {"id": outcome.job_id}).update(outcome.changes or {})
    changed = [values for values in jobs.values() if len(values) > 1]
    with runtime.unit() as unit:
        unit.session.execute(update(Notice), settled)  # never empty: every claim has an outcome
        if changed:
            unit.session.execute(update(Job), changed)


def _notice_values(outcome: Outcome, now: datetime) -> dict[str, Any]:
    if outcome.wait is None:
        return {"delivered_at": now}
    values: dict[str, Any] = {"claimed_until": None}
    if outcome.progress:
        values["detail"] = outcome.progress  # what a multi-part delivery already sent
    if outcome.error is not None:
        values.update(
            next_try_at=now + timedelta(seconds=outcome.wait), last_error=outcome.error[:500]
        )
    return values
