"""Holds before an attempt's first create: a job waits in `awaiting_approval` for an
approver when its kind says so (`approve_before_start`, as `/deep` does: one run is
expensive), or when its estimated cost plus what the requester has spent today (UTC)
would pass ERRAND_BUDGET_USER_DAILY_USD. Both take the same path, so approvers see one
kind of request and Approve/Reject mean the same thing for either. A job no approver
decided on within ERRAND_APPROVAL_WAIT_HOURS expires, and its requester is told: nobody
waits on a request the approvers have forgotten. Retry asks them again.

Spend is what attempts launched today cost, or, until they finish, what they were
estimated to cost when they launched: a flood of jobs counts before any of them ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.batch import LANE, TIER
from models.db import Database
from models.errors import TransitionRefused
from models.job import Attempt, Job, Notice, attempts
from models.kinds import Kind, KindsConfig
from models.options import Options
from models.status import JobStatus
from models.store.lifecycle import add_notice, transition

HELD = (
    "Waiting for an approver: this job's estimated cost would take its requester past "
    "their daily budget."
)
KIND_HELD = "Waiting for an approver: {command} jobs need an approver before they start."
UNDECIDED = (
    "No approver decided within {span}, so the job did not start. Retry asks the approvers again."
)
BATCH = 200


def estimate(kinds: KindsConfig, job: Job) -> float | None:
    """The most the job's next attempt can cost in tokens (None: no price for its model);
    a batch's is every row's, at batch prices, so a huge file cannot pass the budget."""
    kind = kinds.kinds.get(job.kind)
    if kind is None:
        return None
    if job.lane != LANE:
        options = Options.from_json(job.options)
        tier = options.value("tier") if options else kind.service_tier
        return kinds.estimate(kind, job.model, len(job.input_text), tier=tier)
    rows = int((job.output or {}).get("rows") or 1)
    chars = int((job.output or {}).get("input_chars") or 0) + rows * len(job.input_text)
    return kinds.estimate(kind, job.model, chars, rows=rows, tier=TIER)


def spent_today(session: Session, user: str, now: datetime) -> float:
    """USD of the requester's attempts launched since midnight UTC: recorded costs, and the
    estimates of those not finished."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    spent = session.scalar(
        select(func.sum(func.coalesce(Attempt.cost_usd, Attempt.estimate_usd)))
        .join(Job, Job.id == Attempt.job_id)
        .where(Job.requested_by == user, Attempt.launched_at >= midnight)
    )
    return round(float(spent or 0.0), 6)


def held_for_approval(
    session: Session,
    kind: Kind | None,
    job: Job,
    attempt: Attempt,
    cost: float | None,
    *,
    budget: float | None,
    now: datetime,
) -> bool:
    """Hold the job for an approver when its kind requires one or its attempt would pass
    the budget; True if held.

    Only before the attempt's first create, and never for an attempt an approver let
    through: its estimate is booked then, and counts like any other.
    """
    if attempt.approved_by or attempt.launched_at:
        return False
    detail: dict[str, object] = {"estimate_usd": cost, "model": job.model}
    if kind is not None and kind.approve_before_start:
        detail.update(reason="kind", command=kind.command)
        wait = KIND_HELD.format(command=kind.command)
        note = f"{kind.command} needs an approver; estimated {_usd(cost)}"
    elif budget is not None and cost is not None:
        spent = spent_today(session, job.requested_by, now)
        if spent + cost <= budget:
            return False
        detail.update(reason="budget", spent_usd=spent, budget_usd=budget)
        wait = HELD
        note = f"estimated {cost:.4f} USD; {spent:.4f} of {budget:.2f} USD spent today"
    else:
        return False
    _hold(session, job, attempt, wait, note, detail)
    return True


def _hold(
    session: Session, job: Job, attempt: Attempt, wait: str, note: str, detail: dict[str, object]
) -> None:
    """Park the job in `awaiting_approval` and leave the notice that asks the approvers."""
    transition(
        session,
        job.id,
        JobStatus.AWAITING_APPROVAL,
        actor="errand",
        action="held_for_approval",
        detail=note,
        values={"wait_reason": wait},
    )
    key = f"awaiting_approval:{attempt.number}"
    add_notice(session, job.id, "awaiting_approval", key=key, detail=detail)


def _usd(cost: float | None) -> str:
    return "cost unknown" if cost is None else f"{cost:.4f} USD"


def expire_undecided(db: Database, wait: timedelta) -> int:
    """Expire jobs that have waited for an approver longer than `wait`; a decision taken
    meanwhile wins (the status is compared and set)."""
    now = utcnow()
    sentence = UNDECIDED.format(span=_span(wait))
    with db.unit() as unit:
        ids = unit.session.scalars(
            select(Job.id)
            .where(Job.status == JobStatus.AWAITING_APPROVAL, Job.updated_at <= now - wait)
            .limit(BATCH)
        ).all()
        for job_id in ids:
            try:
                transition(
                    unit.session,
                    job_id,
                    JobStatus.EXPIRED,
                    actor="errand",
                    action="approval_expired",
                    sources=frozenset({JobStatus.AWAITING_APPROVAL}),
                    detail=f"no approver decided within {_span(wait)}",
                    values={"error": sentence, "wait_reason": None, "finished_at": now},
                    notice="expired",
                )
            except TransitionRefused:
                continue
            close_request(unit.session, job_id)
            unit.session.execute(
                update(attempts)
                .where(attempts.c.job_id == job_id, attempts.c.finished_at.is_(None))
                .values(finished_at=now, cost_usd=0.0)
            )
    return len(ids)


def close_request(session: Session, job_id: str) -> None:
    """The job ended before any approver decided (its wait expired, or it was canceled):
    its request to the approvers, once posted, gives its buttons way to how it ended."""
    asked = session.execute(
        select(Notice.id, Notice.detail)
        .where(Notice.job_id == job_id, Notice.milestone == "awaiting_approval")
        .order_by(Notice.id.desc())
        .limit(1)
    ).first()
    ts = (asked.detail or {}).get("request_ts") if asked else None
    if asked and ts:
        add_notice(session, job_id, "request_closed", key=f"closed:{asked.id}", detail={"ts": ts})


def _span(wait: timedelta) -> str:
    """`72 hours`, `1 hour`, `30 minutes`: how long the approvers had."""
    hours = wait.total_seconds() / 3600
    number, unit = (hours, "hour") if hours >= 1 else (max(1, round(hours * 60)), "minute")
    return f"{number:g} {unit}{'' if number == 1 else 's'}"
