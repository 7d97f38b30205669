"""A requester's daily budget: before an attempt's first create, its estimated cost plus
what the requester has spent today (UTC) is compared with ERRAND_BUDGET_USER_DAILY_USD;
a job that would pass it waits in `awaiting_approval` for an approver.

Spend is what attempts launched today cost, or, until they finish, what they were
estimated to cost when they launched: a flood of jobs counts before any of them ends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.job import Attempt, Job
from models.kinds import KindsConfig
from models.status import JobStatus
from models.store.lifecycle import add_notice, transition

HELD = (
    "Waiting for an approver: this job's estimated cost would take its requester past "
    "their daily budget."
)


def estimate(kinds: KindsConfig, job: Job) -> float | None:
    """The most the job's next attempt can cost in tokens (None: no price for its model)."""
    kind = kinds.kinds.get(job.kind)
    return kinds.estimate(kind, job.model, len(job.input_text)) if kind else None


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


def over_budget(
    session: Session,
    job: Job,
    attempt: Attempt,
    cost: float | None,
    *,
    budget: float | None,
    now: datetime,
) -> bool:
    """Hold the job for an approver when its attempt would pass the budget; True if held.

    Only before the attempt's first create, and never for an attempt an approver let
    through: its estimate is booked then, and counts like any other.
    """
    if budget is None or cost is None or attempt.approved_by or attempt.launched_at:
        return False
    spent = spent_today(session, job.requested_by, now)
    if spent + cost <= budget:
        return False
    transition(
        session,
        job.id,
        JobStatus.AWAITING_APPROVAL,
        actor="errand",
        action="held_for_approval",
        detail=f"estimated {cost:.4f} USD; {spent:.4f} of {budget:.2f} USD spent today",
        values={"wait_reason": HELD},
    )
    detail = {"estimate_usd": cost, "spent_usd": spent, "budget_usd": budget}
    key = f"awaiting_approval:{attempt.number}"
    add_notice(session, job.id, "awaiting_approval", key=key, detail=detail)
    return True
