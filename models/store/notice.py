"""The notice outbox: milestones written with the change they report, claimed in order
per job by the notify pulse, and settled (delivered, or due again later) after delivery.

Under a backlog, jobs with a result to tell go first, then the oldest news: a person
waiting for an answer matters more than another job's "started" line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, case, func, or_, select, update
from sqlalchemy.orm import Session, lazyload

from models.base import utcnow
from models.db import Database
from models.job import Job, Notice, notices
from models.notifier import Milestone
from models.status import RESULTS, values

CLAIM = timedelta(seconds=60)
_with_a_result = func.max(case((Notice.milestone.in_(values(RESULTS)), 1), else_=0))


@dataclass(frozen=True)
class Outcome:
    """How one notice went: delivered (with job fields to store) or to be tried later."""

    notice_id: int
    job_id: str
    changes: dict[str, Any] | None = None
    wait: float | None = None
    error: str | None = None
    progress: dict[str, Any] | None = None


def claim_due_notices(db: Database, *, jobs: int) -> list[list[Milestone]]:
    """Lease the due notices of up to `jobs` jobs, results first; per job, its notices
    from the oldest up to the first one that is not yet due, in order."""
    now = utcnow()
    with db.unit() as unit:
        job_ids = _jobs_with_news(unit.session, now, jobs)
        if not job_ids:
            return []
        pending = unit.session.execute(
            select(notices)
            .where(notices.c.job_id.in_(job_ids), notices.c.delivered_at.is_(None))
            .order_by(notices.c.job_id, notices.c.id)
        ).all()
        loaded = _load_jobs(
            unit.session, job_ids, alerts=any(n.milestone == "stuck" for n in pending)
        )
        order = {job_id: index for index, job_id in enumerate(job_ids)}  # results first
        groups = sorted(_due_prefixes(pending, loaded, now), key=lambda g: order[g[0].job.id])
        ids = [m.notice_id for group in groups for m in group]
        unit.session.execute(
            update(Notice)
            .where(Notice.id.in_(ids))
            .values(claimed_until=now + CLAIM, tries=Notice.tries + 1)
        )
    return groups


def _jobs_with_news(session: Session, now: datetime, limit: int) -> list[str]:
    return list(
        session.scalars(
            select(Notice.job_id)
            .where(
                Notice.delivered_at.is_(None),
                Notice.next_try_at <= now,
                or_(Notice.claimed_until.is_(None), Notice.claimed_until <= now),
            )
            .group_by(Notice.job_id)
            .order_by(_with_a_result.desc(), func.min(Notice.id))
            .limit(limit)
        )
    )


def _load_jobs(session: Session, ids: Sequence[str], *, alerts: bool) -> dict[str, Job]:
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
        milestone = Milestone(
            notice.id,
            notice.milestone,
            dict(notice.detail or {}),
            jobs[notice.job_id],
            notice.next_try_at,
        )
        groups.setdefault(notice.job_id, []).append(milestone)
    return [
        [replace(m, last=index == len(group) - 1) for index, m in enumerate(group)]
        for group in groups.values()
    ]


def settle(db: Database, outcomes: list[Outcome]) -> None:
    """Record a tick's outcomes as bulk updates by primary key: a few round trips, not
    one per notice, so a busy tick does not hold its pulse on the settling."""
    if not outcomes:
        return
    now = utcnow()
    settled = [{"id": o.notice_id, **_notice_values(o, now)} for o in outcomes]
    changes: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:  # in order: a job's later delivery wins, as it would alone
        changes.setdefault(outcome.job_id, {"id": outcome.job_id}).update(outcome.changes or {})
    changed = [fields for fields in changes.values() if len(fields) > 1]
    with db.unit() as unit:
        unit.session.execute(update(Notice), settled)
        if changed:
            unit.session.execute(update(Job), changed)


def _notice_values(outcome: Outcome, now: datetime) -> dict[str, Any]:
    if outcome.wait is None:
        return {"delivered_at": now}
    fields: dict[str, Any] = {"claimed_until": None}
    if outcome.progress:
        fields["detail"] = outcome.progress  # what a multi-part delivery already sent
    if outcome.error is not None:
        fields.update(
            next_try_at=now + timedelta(seconds=outcome.wait), last_error=outcome.error[:500]
        )
    return fields
