"""Held streams (zero data retention): a response that lives only in the stream of the
worker that created it, with `store=false` and no `background`.

The launch claim on the attempt stays on while the stream runs: the holding worker renews
it, and nothing else touches the attempt (the follow pulse skips a held attempt: the
provider keeps nothing to retrieve). If the holder dies its claim lapses, and since there
is nothing at the provider to resume, the attempt starts again: its response is forgotten
and the job waits in `queued` for the next launch, which counts a create of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, not_, or_, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import Database
from models.errors import TransitionRefused
from models.job import Attempt, Job, attempts, is_active, is_current_attempt, jobs
from models.notifier import INTERRUPTED
from models.status import JobStatus
from models.store.attempt import Launch, Recorded, note_started
from models.store.lifecycle import add_notice, record_event, transition

BATCH = 50
INTERACTIVE = "interactive"  # the lane whose answers stream into their thread as written
LOST = (
    "response {response_id} was lost with its stream ({why}); under zero data retention "
    "nothing is kept at the provider to resume, so the attempt starts again and is paid again"
)


@dataclass(frozen=True)
class HeldRun:
    """What storing a held stream's response did, and which run of the attempt it is (its
    creates so far), which keeps a restarted run's progress notices apart."""

    recorded: Recorded
    run: int = 0


@dataclass(frozen=True)
class Kept:
    """One round of renewals: the attempts still held, and those whose job wants them
    stopped (a cancel, an expiry, or the job ended some other way)."""

    renewed: frozenset[int]
    stopping: frozenset[int]


def hold_response(db: Database, launch: Launch, response_id: str, detail: str) -> HeldRun:
    """Store the response of a held stream for the launch's attempt, keeping the claim.

    As `models.store.attempt.record_response`, under the job's row lock: only while the
    job waits on this attempt and the claim is still this launch's. The create was
    answered, so it stops counting as one that may have made a response unseen.
    """
    with db.unit() as unit:
        session = unit.session
        job = session.execute(
            select(jobs.c.status, jobs.c.attempts)
            .where(jobs.c.id == launch.job_id)
            .with_for_update()
        ).first()
        if job is None or job.status != JobStatus.QUEUED or job.attempts != launch.attempt:
            return HeldRun(Recorded.EXTRA)
        first = (
            session.scalar(select(attempts.c.started_at).where(attempts.c.id == launch.attempt_id))
            is None
        )
        run = _store(session, launch, response_id)
        if run is None:
            return HeldRun(Recorded.EXTRA)
        session.execute(
            update(jobs)
            .where(jobs.c.id == launch.job_id)
            .values(
                next_check_at=None,
                started_at=func.coalesce(jobs.c.started_at, utcnow()),
                progress_noted_at=utcnow(),
                wait_reason=None,
            )
        )
        if first:  # a restarted run starts again quietly: its thread was told already
            note_started(session, launch.job_id, response_id, detail)
        else:
            record_event(session, launch.job_id, "errand", "started", detail=detail)
    return HeldRun(Recorded.NEW, run)


def _store(session: Session, launch: Launch, response_id: str) -> int | None:
    """The attempt's creates so far, once the response is stored; None if the claim is gone."""
    stored = session.execute(
        update(attempts)
        .where(
            attempts.c.id == launch.attempt_id,
            attempts.c.response_id.is_(None),
            attempts.c.claim_token == launch.claim_token,
        )
        .values(
            response_id=response_id,
            provider_status="in_progress",
            started_at=func.coalesce(attempts.c.started_at, utcnow()),
            uncertain_creates=attempts.c.uncertain_creates - 1,
            stream_cursor=None,
        )
    ).rowcount  # type: ignore[attr-defined]
    if stored != 1:
        return None
    calls = session.scalar(
        select(attempts.c.create_calls).where(attempts.c.id == launch.attempt_id)
    )
    return int(calls or 0)


def keep_holds(db: Database, held: Sequence[tuple[int, str]], until: datetime) -> Kept:
    """Renew each (attempt, claim token) held by this worker until `until`; say which are
    no longer held and which the job wants stopped."""
    renewed: set[int] = set()
    with db.unit() as unit:
        for attempt_id, token in held:
            kept = unit.session.execute(
                update(attempts)
                .where(attempts.c.id == attempt_id, attempts.c.claim_token == token)
                .values(claimed_until=until)
            ).rowcount  # type: ignore[attr-defined]
            if kept:
                renewed.add(attempt_id)
        stopping = unit.session.scalars(
            select(Attempt.id)
            .join(Job, Job.id == Attempt.job_id)
            .where(Attempt.id.in_(renewed), _unwanted())
        ).all()
    return Kept(frozenset(renewed), frozenset(stopping))


def _unwanted() -> ColumnElement[bool]:
    """The job asks for a stop, has ended, or moved on to another attempt."""
    return or_(Job.stop_requested.is_not(None), not_(is_active()), Job.attempts != Attempt.number)


def release_hold(session: Session, attempt_id: int, token: str) -> None:
    """The stream is over: the attempt is no longer held (if it still was by this claim)."""
    session.execute(
        update(attempts)
        .where(attempts.c.id == attempt_id, attempts.c.claim_token == token)
        .values(claimed_until=None, claim_token=None)
    )


def restart_held(db: Database, attempt_id: int, token: str, why: str) -> bool:
    """Start the attempt again at once: its holder is leaving and cannot hand the stream on."""
    with db.unit() as unit:
        row = unit.session.execute(
            select(Attempt.job_id, Attempt.response_id)
            .join(Job, is_current_attempt())
            .where(Attempt.id == attempt_id, Attempt.claim_token == token, _restartable())
        ).first()
        if row is None:
            return False
        _restart(unit.session, attempt_id, row.job_id, row.response_id, why)
    return True


def restart_lapsed(db: Database) -> list[str]:
    """Start again every held attempt whose holder stopped renewing its claim (a worker that
    died mid-response); returns the jobs."""
    now = utcnow()
    with db.unit() as unit:
        rows = unit.session.execute(
            select(Attempt.id, Attempt.job_id, Attempt.response_id)
            .join(Job, is_current_attempt())
            .where(_restartable(), Attempt.claimed_until <= now)
            .limit(BATCH)
            .with_for_update(of=Attempt, skip_locked=True)
        ).all()
        for attempt_id, job_id, response_id in rows:
            _restart(unit.session, attempt_id, job_id, response_id, "its worker is gone")
    return [row.job_id for row in rows]


def _restartable() -> ColumnElement[bool]:
    """A held attempt of an active job that nobody asked to stop."""
    return and_(
        is_active(),
        Job.stop_requested.is_(None),
        Attempt.response_id.is_not(None),
        Attempt.claim_token.is_not(None),
    )


def _restart(
    session: Session, attempt_id: int, job_id: str, response_id: str | None, why: str
) -> None:
    session.execute(
        update(attempts)
        .where(attempts.c.id == attempt_id)
        .values(
            response_id=None,
            provider_status=None,
            stream_cursor=None,
            claimed_until=None,
            claim_token=None,
        )
    )
    detail = LOST.format(response_id=response_id, why=why)
    lane = session.scalar(select(jobs.c.lane).where(jobs.c.id == job_id))
    if lane == INTERACTIVE:  # the answer streaming into its thread will not go on as it began
        key = f"interrupted:{(response_id or '')[-24:]}"
        add_notice(session, job_id, INTERRUPTED, key=key)
    try:
        transition(
            session,
            job_id,
            JobStatus.QUEUED,
            actor="errand",
            action="restart",
            sources=frozenset({JobStatus.RUNNING}),
            detail=detail,
            values={"next_check_at": None},
        )
    except TransitionRefused:  # still queued: it never reached in_progress
        record_event(session, job_id, "errand", "restart", detail=detail)
