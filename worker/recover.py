"""The recover pulse: expire overdue jobs and undecided approvals, re-enqueue stops Redis
lost, report stuck jobs.

Safe on every worker at once: each step claims its rows or is a no-op when repeated
(a stop task RQ still knows is not enqueued twice).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from models.base import utcnow
from models.store.budget import expire_undecided
from models.store.stops import expire_overdue, unlanded_stops
from models.store.waiting import report_stuck
from worker.context import Context

log = logging.getLogger(__name__)

GRACE = timedelta(seconds=10)


@dataclass(frozen=True)
class RecoverReport:
    """Counts of recovered work, for logs."""

    stops: int
    expired: int
    stuck: int


def recover(ctx: Context) -> RecoverReport:
    """One pass: expire overdue jobs and approvals nobody decided, re-enqueue stops that
    have not landed, report stuck."""
    expired = expire_overdue(ctx.db, ctx.dispatch)
    if ctx.settings.approval_wait_hours:
        wait = timedelta(hours=ctx.settings.approval_wait_hours)
        expired += expire_undecided(ctx.db, wait)
    unlanded = unlanded_stops(ctx.db, older_than=GRACE)
    for job_id in unlanded:
        ctx.dispatch.stop(job_id)
    report = RecoverReport(len(unlanded), expired, report_stuck(ctx.db, ctx.kinds, utcnow()))
    if report.stops or report.expired or report.stuck:
        log.info("recovered", extra=report.__dict__)
    return report
