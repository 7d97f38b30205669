"""What a reader of a response's event stream stores: the cursor to resume after, when
the job is next polled, and the occasional progress milestone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import Database
from models.job import Attempt, Job, is_active, is_current_attempt
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


def stream_target(db: Database, job_id: str) -> tuple[str, StreamTarget] | None:
    """(kind, target) of the job's current attempt, if the job is active and has a
    response."""
    with db.unit() as unit:
        row = unit.session.execute(
            select(Job.kind, Attempt.id, Attempt.number, Attempt.response_id, Attempt.stream_cursor)
            .join(Attempt, is_current_attempt())
            .where(Job.id == job_id, is_active())
        ).first()
    if row is None or row.response_id is None:
        return None
    return row.kind, StreamTarget(job_id, row.id, row.number, row.response_id, row.stream_cursor)


def streamable(db: Database, kinds: list[str], *, limit: int) -> list[tuple[str, str]]:
    """(job, response) of active jobs of streaming kinds with a response and no stop asked,
    that no worker holds as the stream it created (zero data retention)."""
    with db.unit() as unit:
        rows = unit.session.execute(
            select(Job.id, Attempt.response_id)
            .join(Attempt, is_current_attempt())
            .where(
                Job.kind.in_(kinds),
                is_active(),
                Job.stop_requested.is_(None),
                Attempt.response_id.is_not(None),
                Attempt.claim_token.is_(None),
            )
            .limit(limit)
        ).all()
    return [(job_id, str(response_id)) for job_id, response_id in rows]


def save_reading(
    db: Database,
    target: StreamTarget,
    cursor: int,
    *,
    poll_at: datetime,
    poll_now: bool,
    progress: dict[str, Any] | None,
) -> None:
    """Store the cursor (never moving it back), schedule the next poll, note progress.

    While events flow the next poll is pushed out to `poll_at`; once the stream is
    gone (`poll_now`) the job is polled at once.
    """
    with db.unit() as unit:
        unit.session.execute(
            update(Attempt)
            .where(
                Attempt.id == target.attempt_id,
                or_(Attempt.stream_cursor.is_(None), Attempt.stream_cursor < cursor),
            )
            .values(stream_cursor=cursor)
        )
        _schedule_poll(unit.session, target, poll_at, poll_now=poll_now)
        if progress is not None and _is_current(unit.session, target):
            key = f"progress:{target.progress_key}:{cursor}"
            add_notice(unit.session, target.job_id, "progress", key=key, detail=progress)


def _current(target: StreamTarget) -> ColumnElement[bool]:
    return and_(Job.id == target.job_id, Job.attempts == target.attempt, is_active())


def _schedule_poll(session: Session, target: StreamTarget, at: datetime, *, poll_now: bool) -> None:
    if poll_now:
        session.execute(update(Job).where(_current(target)).values(next_check_at=utcnow()))
        return
    session.execute(
        update(Job).where(_current(target), Job.next_check_at < at).values(next_check_at=at)
    )


def _is_current(session: Session, target: StreamTarget) -> bool:
    found = session.scalar(select(Job.id).where(_current(target)))
    return found is not None
