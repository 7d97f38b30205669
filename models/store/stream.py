"""What a reader of a response's event stream stores: the cursor to resume after, when
the job is next polled, and the occasional progress milestone."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import Database
from models.job import Attempt, Job, attempts, is_active, is_current_attempt, jobs
from models.status import ACTIVE, values
from models.store.lifecycle import add_notice


@dataclass(frozen=True)
class StreamTarget:
    """The stream one reader follows: its job, attempt, response and where to resume."""

    job_id: str
    attempt_id: int
    attempt: int
    response_id: str
    cursor: int | None
    run: int = 0  # a held stream's run of its attempt (`models.store.hold`); 0 otherwise

    @property
    def progress_key(self) -> str:
        """Progress notices' key prefix: a restarted run numbers its events from 0 again."""
        return f"{self.attempt}.{self.run}" if self.run else str(self.attempt)


def streamable(
    db: Database, kinds: Collection[str] | None, *, skip_lane: str, limit: int
) -> list[tuple[str, StreamTarget]]:
    """(kind, target) of active jobs with a response still running and no stop asked, of
    the given kinds (None: all but the lane `skip_lane`), that no worker holds as the
    stream it created (zero data retention)."""
    which = Job.lane != skip_lane if kinds is None else Job.kind.in_(kinds)
    with db.reading() as session:
        rows = session.execute(
            select(
                Job.kind,
                Job.id,
                Attempt.id,
                Attempt.number,
                Attempt.response_id,
                Attempt.stream_cursor,
            )
            .join(Attempt, is_current_attempt())
            .where(
                which,
                is_active(),
                Job.stop_requested.is_(None),
                Attempt.response_id.is_not(None),
                Attempt.finished_at.is_(None),
                Attempt.claim_token.is_(None),
            )
            .limit(limit)
        ).all()
    return [(r[0], StreamTarget(r[1], r[2], r[3], str(r[4]), r[5])) for r in rows]


# The stream reader writes these for every open stream, many times a second in all:
# Core statements, built once, each execution only binding values.
_MOVE_CURSOR = (
    update(attempts)
    .where(
        attempts.c.id == bindparam("aid"),
        or_(attempts.c.stream_cursor.is_(None), attempts.c.stream_cursor < bindparam("cursor")),
    )
    .values(stream_cursor=bindparam("cursor"))
)
_THIS_ATTEMPT = and_(
    jobs.c.id == bindparam("job"),
    jobs.c.attempts == bindparam("attempt"),
    jobs.c.status.in_(values(ACTIVE)),
)
_POLL_NOW = update(jobs).where(_THIS_ATTEMPT).values(next_check_at=bindparam("at"))
_POLL_LATER = (
    update(jobs)
    .where(_THIS_ATTEMPT, jobs.c.next_check_at < bindparam("at"))
    .values(next_check_at=bindparam("at"))
)
_IS_CURRENT = select(jobs.c.id).where(_THIS_ATTEMPT)


def hold_polls(db: Database, cursors: list[tuple[StreamTarget, int | None]], at: datetime) -> None:
    """For streams being read: store each new cursor (never moving one back) and push their
    jobs' next poll out to `at`, all in one transaction (a poll stays the safety net)."""
    if not cursors:
        return
    moved = [{"aid": t.attempt_id, "cursor": c} for t, c in cursors if c is not None]
    with db.unit() as unit:
        if moved:
            unit.session.connection().execute(_MOVE_CURSOR, moved)
        ids = [t.job_id for t, _ in cursors]
        unit.session.execute(
            update(Job)
            .where(Job.id.in_(ids), is_active(), Job.next_check_at < at)
            .values(next_check_at=at)
        )


def save_reading(
    session: Session,
    target: StreamTarget,
    cursor: int,
    *,
    poll_at: datetime,
    poll_now: bool,
    progress: dict[str, Any] | None,
) -> None:
    """Store the cursor (never moving it back), schedule the next poll, note progress.

    While events flow the next poll is pushed out to `poll_at`; once the stream is
    gone (`poll_now`) the job is polled at once. In the caller's transaction: a stream's
    lifecycle event is applied in the same one.
    """
    this = {"job": target.job_id, "attempt": target.attempt}
    connection = session.connection()
    connection.execute(_MOVE_CURSOR, {"aid": target.attempt_id, "cursor": cursor})
    schedule = (_POLL_NOW, utcnow()) if poll_now else (_POLL_LATER, poll_at)
    connection.execute(schedule[0], {**this, "at": schedule[1]})
    if progress is not None and connection.execute(_IS_CURRENT, this).first():
        key = f"progress:{target.progress_key}:{cursor}"
        add_notice(session, target.job_id, "progress", key=key, detail=progress)
