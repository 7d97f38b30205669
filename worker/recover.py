"""The recovery pulse: the database re-drives whatever Redis lost.

Safe on every worker at once: each re-drive is a no-op when the work is
already queued, and every step it re-drives is itself safe to run twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy import select, update

from errand.jobs import stuck_clause
from errand.runtime import Runtime
from models.base import utcnow
from models.job import Job
from models.lifecycle import ACTIVE, JobStatus, add_notice, record_event

log = logging.getLogger(__name__)

GRACE = timedelta(seconds=10)
BATCH = 200


@dataclass(frozen=True)
class RecoverReport:
    """Counts of re-driven work, for logs and metrics."""

    stops: int
    expired: int
    stuck: int


def recover(runtime: Runtime) -> RecoverReport:
    """One pass: expire overdue jobs, then re-drive stops that have not landed."""
    expired = expire_overdue(runtime)
    report = RecoverReport(
        stops=redrive_stops(runtime),
        expired=expired,
        stuck=report_stuck(runtime),
    )
    if report.stops or report.expired or report.stuck:
        log.info("recovered", extra=report.__dict__)
    return report


def expire_overdue(runtime: Runtime) -> int:
    """Mark jobs past their deadline for expiry; the stop task cancels them at the provider."""
    now = utcnow()
    with runtime.unit() as unit:
        ids = unit.session.scalars(
            select(Job.id)
            .where(
                Job.status.in_([s.value for s in ACTIVE]),
                Job.deadline_at <= now,
                Job.stop_requested.is_(None),
            )
            .limit(BATCH)
        ).all()
        for job_id in ids:
            marked = unit.session.execute(
                update(Job)
                .where(Job.id == job_id, Job.stop_requested.is_(None))
                .values(
                    stop_requested=JobStatus.EXPIRED.value,
                    stop_requested_by="errand",
                    updated_at=now,
                )
            ).rowcount  # type: ignore[attr-defined]
            if marked:
                record_event(
                    unit.session, job_id, "errand", "expire_requested", detail="past its deadline"
                )
                unit.later(partial(runtime.dispatch.stop, job_id))
    return len(ids)


def redrive_stops(runtime: Runtime) -> int:
    """Requested cancels and expiries that have not landed yet are tried again."""
    with runtime.unit() as unit:
        ids = unit.session.scalars(
            select(Job.id)
            .where(
                Job.status.in_([s.value for s in ACTIVE]),
                Job.stop_requested.is_not(None),
                Job.updated_at <= utcnow() - GRACE,
            )
            .limit(BATCH)
        ).all()
    for job_id in ids:
        runtime.dispatch.stop(job_id)
    return len(ids)


def report_stuck(runtime: Runtime) -> int:
    """Jobs active longer than their kind's threshold are reported to on-call, once each."""
    now = utcnow()
    with runtime.unit() as unit:
        ids = list(
            unit.session.scalars(
                select(Job.id)
                .where(stuck_clause(runtime.kinds, now), Job.stuck_alerted_at.is_(None))
                .limit(BATCH)
            )
        )
        if ids:
            unit.session.execute(update(Job).where(Job.id.in_(ids)).values(stuck_alerted_at=now))
        for job_id in ids:
            add_notice(unit.session, job_id, "stuck", key="stuck")
            record_event(
                unit.session,
                job_id,
                "errand",
                "reported_stuck",
                detail="active longer than its kind allows",
            )
    return len(ids)
