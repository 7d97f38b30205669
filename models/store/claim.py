"""Claims: a worker leases the rows it is about to work on, so no other worker takes them
while the lease runs; a worker that dies loses only its lease.

Rows are picked `FOR UPDATE SKIP LOCKED`, so workers on PostgreSQL never wait on each
other's claims (SQLAlchemy renders nothing for it on SQLite, whose single writer
serializes claims anyway).

A launch is claimed right before its one create call, no more at a time than the launch
pool sends at once, and the claim counts that call: each lease fences one call. The provider's
create is not idempotent, so an attempt whose create went unanswered (timeout, 5xx,
reset, a worker that died mid-call) is claimed again only after a wait, at most once
more; after a second wait with no response come to light, the job fails.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, func, or_, select, update
from sqlalchemy.orm import Session, lazyload

from models.base import utcnow
from models.db import Database
from models.job import Attempt, Job, attempts, is_active, is_current_attempt
from models.kinds import KindsConfig
from models.options import Options
from models.status import JobStatus
from models.store.attempt import Launch, end_attempt
from models.store.budget import estimate, held_for_approval
from models.store.lifecycle import transition
from models.store.turns import turn_input

CHECK_LEASE = timedelta(seconds=60)
CANDIDATES = 8  # looked at beyond the limit: room to skip rows another claimer holds
MAX_UNCERTAIN = 2  # creates per attempt that may have made a response we never heard of
UNCONFIRMED = (
    "Errand could not confirm that the AI provider started this job: its two start "
    "requests went unanswered (a timeout or a server error), so it stopped rather than "
    "risk paying twice. On-call: check the provider's status, and its logs for responses "
    "with metadata job_id={job_id}. Retry starts a fresh attempt."
)


@dataclass(frozen=True)
class DueCheck:
    """One response to check now, and when the check became due."""

    job_id: str
    response_id: str
    due_at: datetime
    lane: str = ""  # a batch lane job's response_id is its batch's


@dataclass(frozen=True)
class LaunchRules:
    """What every launch claim obeys (from the settings)."""

    lease: timedelta  # must outlast one create call
    unknown_wait: timedelta  # after a create that went unanswered
    budget_usd: float | None = None  # per requester per UTC day
    max_active: int | None = None  # a requester's jobs at the provider at once


def claim_launches(
    db: Database, kinds: KindsConfig, rules: LaunchRules, *, limit: int
) -> list[Launch]:
    """Lease up to `limit` attempts to start now and count their create calls.

    Highest priority first; within a priority, round-robin between requesters (each
    one's oldest first), so one person's flood does not starve the others. On the way,
    an attempt whose two creates went unanswered fails, and one whose kind needs an
    approver, or over its requester's budget, is held for approval. The caller sends the
    calls at once, side by side: a claim is never taken ahead of the pool's turn to use it.
    """
    now = utcnow()
    claimed: list[Launch] = []
    with db.reading() as session:  # before the claim, outside its write (see `_any`)
        candidates = _candidates(session, now, rules, limit + CANDIDATES)
    if not candidates:
        return claimed
    with db.unit() as unit:
        locked = _lock(unit.session, candidates, now, rules.unknown_wait)
        for attempt, job in (locked[i] for i in candidates if i in locked):
            if attempt.uncertain_creates >= MAX_UNCERTAIN:
                _give_up(unit.session, job.id, attempt.id)
                continue
            cost = estimate(kinds, job)
            kind = kinds.kinds.get(job.kind)
            budget = rules.budget_usd
            if held_for_approval(unit.session, kind, job, attempt, cost, budget=budget, now=now):
                continue
            claimed.append(_fence(unit.session, attempt, job, cost, now + rules.lease))
            if len(claimed) == limit:
                break
    return claimed


def _any(db: Database, query: Select[Any]) -> bool:
    """Whether `query` finds a row, read alone before a claim. A claim is a write: on
    SQLite it holds the one writer's lock, which the bot's acks wait for. So what can be
    read is read first, outside it, and an idle tick (on every worker, a few times a
    second) takes no write transaction at all."""
    return db.read_one(query.limit(1)) is not None


def launchable(now: datetime, unknown_wait: timedelta) -> ColumnElement[bool]:
    """A queued job's current attempt with no response, no live claim, no stop asked,
    and no unanswered create younger than the wait."""
    return and_(
        Job.status == JobStatus.QUEUED.value,
        Job.stop_requested.is_(None),
        Attempt.response_id.is_(None),
        or_(Attempt.claimed_until.is_(None), Attempt.claimed_until <= now),
        or_(Attempt.uncertain_creates == 0, Attempt.last_create_at <= now - unknown_wait),
    )


def busy_by_requester(now: datetime, unknown_wait: timedelta) -> Subquery:
    """(requested_by, busy): each requester's jobs at the provider now, or that may be: a
    response, a create in flight, or an unanswered create still waited on."""
    waiting = and_(Attempt.uncertain_creates > 0, Attempt.last_create_at > now - unknown_wait)
    return (
        select(Job.requested_by, func.count().label("busy"))
        .join(Attempt, is_current_attempt())
        .where(
            is_active(),
            or_(Attempt.response_id.is_not(None), Attempt.claimed_until > now, waiting),
        )
        .group_by(Job.requested_by)
        .subquery()
    )


def _candidates(session: Session, now: datetime, rules: LaunchRules, limit: int) -> list[int]:
    """The next attempts in launch order; with a per-requester cap, only those under it."""
    turn = func.row_number().over(
        partition_by=(Job.priority, Job.requested_by), order_by=(Job.created_at, Job.id)
    )
    place = func.row_number().over(
        partition_by=Job.requested_by, order_by=(Job.priority.desc(), Job.created_at, Job.id)
    )
    ranked = (
        select(Attempt.id, Job.requested_by, Job.priority, Job.created_at)
        .add_columns(turn.label("turn"), place.label("place"))
        .join(Job, is_current_attempt())
        .where(launchable(now, rules.unknown_wait))
        .subquery()
    )
    pick = select(ranked.c.id).order_by(
        ranked.c.priority.desc(), ranked.c.turn, ranked.c.created_at
    )
    if rules.max_active is not None:
        busy = busy_by_requester(now, rules.unknown_wait)
        pick = pick.outerjoin(busy, busy.c.requested_by == ranked.c.requested_by).where(
            ranked.c.place + func.coalesce(busy.c.busy, 0) <= rules.max_active
        )
    return list(session.scalars(pick.limit(limit)))


def _lock(
    session: Session, attempt_ids: list[int], now: datetime, unknown_wait: timedelta
) -> dict[int, tuple[Attempt, Job]]:
    """The attempts (with their jobs) still launchable that no other claimer has, locked,
    in one statement: one by one, the locks cost a worker more CPU than the claims."""
    rows = session.execute(
        select(Attempt, Job)
        .join(Job, is_current_attempt())
        .where(Attempt.id.in_(attempt_ids), launchable(now, unknown_wait))
        .options(lazyload(Job.attempt_rows))
        .with_for_update(skip_locked=True)
    ).all()
    return {attempt.id: (attempt, job) for attempt, job in rows}


def _fence(
    session: Session, attempt: Attempt, job: Job, cost: float | None, until: datetime
) -> Launch:
    """Lease the attempt to this claim and count the call about to be made; the first
    claim of an attempt books its estimate against the requester's spend."""
    now, token = utcnow(), secrets.token_hex(8)
    session.execute(
        update(attempts)
        .where(attempts.c.id == attempt.id)
        .values(
            claimed_until=until,
            claim_token=token,
            create_calls=attempts.c.create_calls + 1,
            uncertain_creates=attempts.c.uncertain_creates + 1,
            last_create_at=now,
            launched_at=func.coalesce(attempts.c.launched_at, now),
            estimate_usd=func.coalesce(attempts.c.estimate_usd, cost),
        )
    )
    asked = turn_input(session, job)
    options = Options.from_json(job.options)
    return Launch(
        job.id,
        attempt.id,
        attempt.number,
        attempt.idempotency_key,
        token,
        asked.text,
        job.kind,
        job.model,
        earlier_creates=attempt.create_calls,
        opened_at=attempt.created_at,
        turn=job.turn,
        previous_response_id=asked.previous_response_id,
        earlier=asked.earlier,
        effort=options.value("effort") if options else None,
        service_tier=options.value("tier") if options else None,
        chosen=options is not None,
    )


def _give_up(session: Session, job_id: str, attempt_id: int) -> None:
    """Both creates went unanswered and no response came to light in the wait after the
    second: fail with what on-call can do, rather than create a third time."""
    reason = UNCONFIRMED.format(job_id=job_id)
    transition(
        session,
        job_id,
        JobStatus.FAILED,
        actor="errand",
        action="start_unconfirmed",
        detail="two create calls went unanswered",
        values={"error": reason, "next_check_at": None},
        notice="failed",
    )
    end_attempt(session, attempt_id, reason, cost=None)


def claim_due_checks(db: Database, *, limit: int) -> list[DueCheck]:
    """Lease the oldest due checks (in `next_check_at`) so no other worker takes them
    this minute. A held stream's response (zero data retention, `models.store.hold`) is
    not checked: the provider keeps nothing to retrieve, and its holder reports it."""
    now = utcnow()
    overdue = (
        select(Job.id)
        .join(Attempt, is_current_attempt())
        .where(is_active(), Job.next_check_at <= now, Attempt.claim_token.is_(None))
    )
    if not _any(db, overdue.where(Attempt.response_id.is_not(None))):
        return []
    pick = (
        overdue.order_by(Job.next_check_at).limit(limit).with_for_update(of=Job, skip_locked=True)
    )
    with db.unit() as unit:
        rows = unit.session.execute(
            select(Job.id, Attempt.response_id, Job.next_check_at, Job.lane)
            .join(Attempt, is_current_attempt())
            .where(Job.id.in_(pick.scalar_subquery()), Attempt.response_id.is_not(None))
        ).all()
        ids = [row[0] for row in rows]
        if ids:
            unit.session.execute(
                update(Job).where(Job.id.in_(ids)).values(next_check_at=now + CHECK_LEASE)
            )
    return [DueCheck(job, str(response), due or now, lane) for job, response, due, lane in rows]
