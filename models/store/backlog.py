"""The backlog: work that is due and has waited past its time, which only more capacity
(not fewer launches of a burst already queued) can shrink.

Two kinds count, the two that stand between a provider's answer and the person asking:
checks due and not started (a response to retrieve), and results due and not delivered
(a finished job's answer for Slack). A job's card and its "running" news are not
counted: under a burst they wait behind results by design, at Slack's pace, and launching
fewer jobs would not deliver them sooner.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select

from models.base import utcnow
from models.db import Database
from models.job import Attempt, Job, Notice, is_active, is_current_attempt
from models.status import RESULTS, values


def overdue(db: Database, *, by: timedelta) -> int:
    """How many checks and results have been due for longer than `by`, across every worker."""
    now = utcnow()
    cutoff = now - by
    checks = (
        select(func.count())
        .select_from(Job)
        .join(Attempt, is_current_attempt())
        .where(
            is_active(),
            Job.next_check_at <= cutoff,
            Attempt.claim_token.is_(None),
            Attempt.response_id.is_not(None),
        )
        .scalar_subquery()
    )
    results = (
        select(func.count())
        .select_from(Notice)
        .where(
            Notice.milestone.in_(values(RESULTS)),
            Notice.delivered_at.is_(None),
            Notice.given_up_at.is_(None),
            Notice.next_try_at <= cutoff,
            or_(Notice.claimed_until.is_(None), Notice.claimed_until <= now),
        )
        .scalar_subquery()
    )
    with db.reading() as session:
        return int(session.scalar(select(checks + results)) or 0)
