"""The notify pulse: deliver due milestones through the notifier, in order per job.

A status change writes a notice row in its own transaction (`models.store.notice`);
this pulse reads those rows afterwards, hands them to the `Notifier` the top floor
wired in (Slack, or the log), and settles them, so a notifier outage delays messages
but never loses or reorders them.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass

from models.base import utcnow
from models.db import Database
from models.notifier import Milestone, Notifier, NotifyLater
from models.store.notice import Outcome, claim_due_notices, settle
from worker.metrics import milestone_delivered

log = logging.getLogger(__name__)

# Two jobs' news per notify thread: a result that comes in during a notify tick
# waits for that tick, and a 500-job tick of "queued" and "running" news took
# 0.5-2 s while jobs were launching.
BATCH = 64
# A notify tick stops starting deliveries after this long and hands the rest back,
# so a slow Slack cannot keep the worker's other pulses (follow, launch) waiting.
BUDGET_SECONDS = 2.0
FAILED_RETRY = 30.0


@dataclass(frozen=True)
class Delivery:
    """What one notify tick did, and how long its oldest notice had waited to be sent."""

    delivered: int
    late: float


def deliver_due(
    db: Database, notifier: Notifier, executor: Executor, *, batch: int = BATCH
) -> Delivery:
    """Claim due notices, send them, settle them in one more transaction.

    Jobs go in parallel; each job's notices go in order, and the first that
    must wait holds back the ones after it, so nobody sees "completed" before
    "started".
    """
    claimed = claim_due_notices(db, jobs=batch)
    if not claimed:
        return Delivery(0, 0.0)
    now = utcnow()
    late = max((now - group[0].due_at).total_seconds() for group in claimed)
    until = time.monotonic() + BUDGET_SECONDS
    per_job = executor.map(lambda items: _deliver_in_order(notifier, items, until), claimed)
    outcomes = [outcome for job_outcomes in per_job for outcome in job_outcomes]
    settle(db, outcomes)
    return Delivery(sum(1 for o in outcomes if o.wait is None), late)


def _deliver_in_order(notifier: Notifier, items: list[Milestone], until: float) -> list[Outcome]:
    """A job's milestones in order; past the tick's budget the rest wait for the next tick."""
    outcomes: list[Outcome] = []
    for index, milestone in enumerate(items):
        if time.monotonic() > until:
            return outcomes + _hand_back(items[index:])
        outcome = _deliver_one(notifier, milestone)
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
        error = f"{type(exc).__name__}: {exc}"
        return Outcome(milestone.notice_id, job_id, wait=FAILED_RETRY, error=error)
