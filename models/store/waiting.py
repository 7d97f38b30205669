"""Jobs that wait longer than people expect: held while the provider fails, behind their
requester's other jobs, or stuck past their kind's threshold. Each is told once, with a
milestone the notifier delivers."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from models.base import utcnow
from models.db import Database
from models.job import Attempt, Job, is_current_attempt
from models.kinds import KindsConfig
from models.status import JobStatus
from models.store.claim import busy_by_requester, launchable
from models.store.lifecycle import add_notice, record_event
from models.store.queries import stuck_clause

BATCH = 200


def hold_queued(db: Database, reason: str, *, outage: str) -> int:
    """Give queued jobs that wait for the provider their reason (once each, per outage)."""
    with db.unit() as unit:
        ids = list(
            unit.session.scalars(
                select(Job.id)
                .where(
                    Job.status == JobStatus.QUEUED.value,
                    Job.stop_requested.is_(None),
                    Job.wait_reason.is_(None),
                )
                .limit(BATCH)
            )
        )
        if ids:
            unit.session.execute(update(Job).where(Job.id.in_(ids)).values(wait_reason=reason))
        for job_id in ids:
            add_notice(unit.session, job_id, "held", key=f"held:{outage}")
    return len(ids)


def hold_over_cap(db: Database, max_active: int, unknown_wait: timedelta) -> int:
    """Give launchable jobs whose requester has `max_active` jobs at the provider their
    reason (once each); others' jobs launch meanwhile (`models.store.claim`)."""
    now = utcnow()
    busy = busy_by_requester(now, unknown_wait)
    reason = (
        f"Waiting to start: you have {max_active} jobs running, the most one person may "
        "have at once. This one starts when one of them ends."
    )
    with db.unit() as unit:
        ids = list(
            unit.session.scalars(
                select(Job.id)
                .join(Attempt, is_current_attempt())
                .join(busy, busy.c.requested_by == Job.requested_by)
                .where(launchable(now, unknown_wait), busy.c.busy >= max_active)
                .where(Job.wait_reason.is_(None))
                .limit(BATCH)
            )
        )
        if ids:
            unit.session.execute(update(Job).where(Job.id.in_(ids)).values(wait_reason=reason))
        for job_id in ids:
            add_notice(unit.session, job_id, "held", key=f"held:cap:{now.timestamp()}")
    return len(ids)


def report_stuck(db: Database, kinds: KindsConfig, now: datetime) -> int:
    """Jobs active longer than their kind's threshold are reported to on-call, once each."""
    with db.unit() as unit:
        ids = list(
            unit.session.scalars(
                select(Job.id)
                .where(stuck_clause(kinds, now), Job.stuck_alerted_at.is_(None))
                .limit(BATCH)
            )
        )
        if ids:
            unit.session.execute(update(Job).where(Job.id.in_(ids)).values(stuck_alerted_at=now))
        for job_id in ids:
            add_notice(unit.session, job_id, "stuck", key="stuck")
            detail = "active longer than its kind allows"
            record_event(unit.session, job_id, "errand", "reported_stuck", detail=detail)
    return len(ids)
