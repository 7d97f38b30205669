"""The notice outbox: milestones written with the change they report, claimed by the
notify pulse, and settled one by one as each delivery ends.

Three kinds of notice go their own ways, so none holds up another:
* a job's **news** (its card's first post, thread lines, the result) goes in order, and
  a notice that must wait holds back the later ones of its job; under a backlog, jobs
  with a result to tell go first, then the oldest news;
* its **card** edits and the thread's agent **status** are coalesced: of a job's pending
  ones only the newest is sent (it shows the job as it is now), finals first, none while
  an earlier one is in flight (it could land after the newer), and no more than the
  notifier's budget allows now: Slack allows about 50 of each a minute, and a claim
  beyond it was handed back every tick, a transaction each, by the thousand under load;
* **alerts** for on-call are delivered on their own.
A notice is tried a bounded number of times, with backoff; a permanent failure, or the
last try, gives it up: it is undeliverable, visible to operators, and blocks nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Row, and_, case, func, or_, select, update
from sqlalchemy.orm import Session, lazyload

from models.base import utcnow
from models.batch import LANE
from models.db import Database
from models.job import Job, Notice, notices
from models.notifier import AGENT_STATUS, ALERTS, CARD, SENDING, UNCERTAIN, Milestone
from models.status import RESULTS, TERMINAL, values
from models.store.batch import results_file
from models.store.delivery import save_progress
from models.store.preferences import notify_by_dm

CLAIM = timedelta(seconds=60)
NOTICE_LOCKS = 0x6E6F7469  # the notify claims' advisory locks: (this, hash of the job ID)
_with_a_result = func.max(case((Notice.milestone.in_(values(RESULTS)), 1), else_=0))
# Claimed by `claim_newest`, not with the news: what each needs before it can be sent.
NEWEST: dict[str, Any] = {
    CARD: Job.card_ts.is_not(None),
    # the card's first post roots the thread a status marks (none without a channel)
    AGENT_STATUS: or_(Job.card_ts.is_not(None), Job.channel_id.is_(None)),
}


@dataclass(frozen=True)
class Claimed:
    """A job's claimed notices: its news in order, and its alerts, alone."""

    news: list[Milestone]
    alone: list[Milestone]


def _pending() -> Any:
    return and_(Notice.delivered_at.is_(None), Notice.given_up_at.is_(None))


def _due(now: datetime) -> Any:
    return and_(
        _pending(),
        Notice.next_try_at <= now,
        or_(Notice.claimed_until.is_(None), Notice.claimed_until <= now),
    )


def claim_news(db: Database, *, jobs: int) -> list[Claimed]:
    """Lease the due news and alerts of up to `jobs` jobs, results first."""
    now = utcnow()
    with db.reading() as session:  # before the claim (see `_claimable`)
        candidates = _jobs_with_news(session, now, jobs)
    if not candidates:
        return []
    with db.unit() as unit:
        job_ids = _claimable(unit.session, candidates)
        if not job_ids:
            return []
        rows = unit.session.execute(
            select(notices)
            .where(notices.c.job_id.in_(job_ids), notices.c.milestone.not_in(NEWEST), _pending())
            .order_by(notices.c.job_id, notices.c.id)
        ).all()
        alerts = any(n.milestone in ALERTS for n in rows)
        loaded = _load_jobs(unit.session, job_ids, alerts=alerts)
        claims = _group(db, rows, loaded, now + CLAIM, now)
        _lease(unit.session, claims, now + CLAIM)
    order = {job_id: index for index, job_id in enumerate(job_ids)}  # results first
    return sorted(claims.values(), key=lambda c: order[(c.news or c.alone)[0].job.id])


def _jobs_with_news(session: Session, now: datetime, limit: int) -> list[str]:
    return list(
        session.scalars(
            select(Notice.job_id)
            .join(Job, Job.id == Notice.job_id)
            .where(_due(now), Notice.milestone.not_in(NEWEST))
            .group_by(Notice.job_id)
            .order_by(_with_a_result.desc(), func.min(Notice.id))
            .limit(limit)
        )
    )


def _claimable(session: Session, job_ids: list[str]) -> list[str]:
    """Of `job_ids`, those no other claim holds, held until this one commits (in order).

    Every worker's notify pulse claims beside the others', and a claim reads a job's
    notices only once it holds the job: two claimers reading the same pending news at
    once would each send part of it, out of order. A job another claim holds is left to
    the next tick. The hold is an advisory lock, not the job's row: a locked row made
    the launch claim (`FOR UPDATE SKIP LOCKED`) pass the job over, out of its turn.
    (On SQLite the one writer already takes claims one at a time.)

    Which jobs to try is read before the claim's transaction, which on SQLite holds the
    one writer's lock that the bot's acks wait for; an idle tick stops there."""
    if not job_ids or session.get_bind().dialect.name != "postgresql":
        return job_ids
    held = session.execute(
        select(*(func.pg_try_advisory_xact_lock(NOTICE_LOCKS, func.hashtext(j)) for j in job_ids))
    ).one()
    return [job_id for job_id, ok in zip(job_ids, held, strict=True) if ok]


def _load_jobs(session: Session, ids: Sequence[str], *, alerts: bool) -> dict[str, Job]:
    """The jobs as they are now. Their attempts are loaded only for an on-call alert,
    which names the provider response; for every other notice they were a second
    query and a few objects per job, for nothing."""
    query = select(Job).where(Job.id.in_(ids))
    if not alerts:
        query = query.options(lazyload(Job.attempt_rows))
    return {job.id: job for job in session.scalars(query)}


def _group(
    db: Database, rows: Sequence[Row[Any]], jobs: dict[str, Job], fence: datetime, now: datetime
) -> dict[str, Claimed]:
    """Per job: its news from the oldest up to the first not yet due; the due others."""
    claims: dict[str, Claimed] = {}
    blocked: set[str] = set()
    for row in rows:
        claim = claims.setdefault(row.job_id, Claimed([], []))
        due = row.next_try_at <= now and not (row.claimed_until and row.claimed_until > now)
        if row.milestone in ALERTS:
            if due:
                claim.alone.append(_milestone(db, row, jobs[row.job_id], fence))
        elif row.job_id not in blocked and due:
            claim.news.append(_milestone(db, row, jobs[row.job_id], fence))
        else:
            blocked.add(row.job_id)
    return {job_id: c for job_id, c in claims.items() if c.news or c.alone}


def _milestone(db: Database, row: Row[Any], job: Job, fence: datetime) -> Milestone:
    checkpoint: Callable[[dict[str, Any]], None] = partial(save_progress, db, row.id, fence)
    detail = dict(row.detail or {})
    if detail.pop(SENDING, None) is not None:  # a try began a post, then ended unrecorded
        detail[UNCERTAIN] = True
    results = partial(results_file, db, job.id) if job.lane == LANE else _no_results
    return Milestone(
        row.id,
        row.milestone,
        detail,
        job,
        row.next_try_at,
        row.tries + 1,
        fence,
        checkpoint,
        results,
        partial(notify_by_dm, db, job.requested_by),
    )


def _no_results() -> bytes | None:
    return None


def _lease(session: Session, claims: dict[str, Claimed], until: datetime) -> None:
    ids = [m.notice_id for c in claims.values() for m in (*c.news, *c.alone)]
    session.execute(
        update(notices)
        .where(notices.c.id.in_(ids))
        .values(claimed_until=until, tries=notices.c.tries + 1)
    )


def claim_newest(db: Database, milestone: str, *, limit: int) -> list[Milestone]:
    """Lease the newest pending notice of `milestone` (one of NEWEST) of up to `limit`
    jobs, finished jobs first, then the oldest change; a job's older pending ones are
    superseded (nothing to send)."""
    if limit <= 0:
        return []
    now = utcnow()
    with db.reading() as session:  # before the claim (see `_claimable`)
        job_ids = _with_due(session, milestone, now, limit)
    if not job_ids:
        return []
    with db.unit() as unit:
        held = _claimable(unit.session, job_ids)
        if not held:
            return []
        rows = unit.session.execute(  # read once held: another claim may have leased one
            select(notices)
            .where(notices.c.job_id.in_(held), notices.c.milestone == milestone, _pending())
            .order_by(notices.c.job_id, notices.c.id)
        ).all()
        sending = _newest(unit.session, rows, now)
        if not sending:
            return []
        turn = {job_id: index for index, job_id in enumerate(held)}
        sending.sort(key=lambda row: turn[row.job_id])  # finished jobs first
        loaded = _load_jobs(unit.session, [r.job_id for r in sending], alerts=False)
        unit.session.execute(
            update(notices)
            .where(notices.c.id.in_([row.id for row in sending]))
            .values(claimed_until=now + CLAIM, tries=notices.c.tries + 1)
        )
    return [_milestone(db, row, loaded[row.job_id], now + CLAIM) for row in sending]


def _with_due(session: Session, milestone: str, now: datetime, limit: int) -> list[str]:
    """Jobs with a notice of `milestone` due that can be sent, finished jobs first."""
    final = func.max(case((Job.status.in_(values(TERMINAL)), 1), else_=0))
    return list(
        session.scalars(
            select(Notice.job_id)
            .join(Job, Job.id == Notice.job_id)
            .where(_due(now), Notice.milestone == milestone, NEWEST[milestone])
            .group_by(Notice.job_id)
            .order_by(final.desc(), func.min(Notice.id))
            .limit(limit)
        )
    )


def _newest(session: Session, rows: Sequence[Row[Any]], now: datetime) -> list[Row[Any]]:
    """Of each job's pending `rows` (by job, then age), the newest, when it is due and no
    earlier one is in flight; the older ones are superseded here, in the claim's
    transaction."""
    by_job: dict[str, list[Row[Any]]] = {}
    for row in rows:
        by_job.setdefault(row.job_id, []).append(row)
    sending: list[Row[Any]] = []
    stale: list[int] = []
    for found in by_job.values():
        newest = found[-1]
        if (
            any(r.claimed_until and r.claimed_until > now for r in found)
            or newest.next_try_at > now
        ):
            continue
        sending.append(newest)
        stale += [r.id for r in found[:-1]]
    if stale:
        reason = f"superseded by a newer {rows[0].milestone}"
        session.execute(
            update(notices)
            .where(notices.c.id.in_(stale))
            .values(delivered_at=now, last_error=reason)
        )
    return sending
