"""The one way a job changes status, and the rows that record every change and action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.errors import JobNotFound, TransitionRefused
from models.job import events, jobs, notices
from models.notifier import AGENT_STATUS, CARD, CARD_ONLY, REACTION
from models.status import SOURCES, TERMINAL, JobStatus

# The emoji a mention gets when its turn ends, by how it ended (the eyes come off).
SEEN = "eyes"
ENDED = {
    JobStatus.COMPLETED: "white_check_mark",
    JobStatus.FAILED: "x",
    JobStatus.EXPIRED: "x",
    JobStatus.REJECTED: "x",
    JobStatus.CANCELED: "octagonal_sign",
}
# The job thread's agent-session status: working while queued or running, waiting while
# an approver has it, and open for follow-ups once it ends (`closed` comes with Archive).
WORKING = "processing"
SESSION = {
    **{status: "active" for status in TERMINAL},
    JobStatus.QUEUED: WORKING,
    JobStatus.RUNNING: WORKING,
    JobStatus.AWAITING_APPROVAL: "suspended",
    JobStatus.NEEDS_REVIEW: "suspended",
}


@dataclass(frozen=True)
class Transition:
    """What a successful change did."""

    job_id: str
    from_status: JobStatus
    to_status: JobStatus


def transition(
    session: Session,
    job_id: str,
    target: JobStatus,
    *,
    actor: str,
    action: str,
    sources: frozenset[JobStatus] | None = None,
    detail: str | None = None,
    values: dict[str, Any] | None = None,
    notice: str | None = None,
) -> Transition:
    """Move a job to `target` with its event (and notice) in the caller's transaction.

    A compare-and-set on the status the job was read in: of two racing actors
    exactly one wins, and the other gets `TransitionRefused` naming the winner's
    status. The caller commits.
    """
    allowed = SOURCES[target] if sources is None else sources & SOURCES[target]
    for _ in range(5):
        current = _status(session, job_id)
        if current not in allowed:
            raise TransitionRefused(job_id, current, target)
        changed, asked_ts, where = _compare_and_set(session, job_id, current, target, values or {})
        if changed:
            change = Transition(job_id, JobStatus(current), target)
            event_id = record_event(
                session, job_id, actor, action, change.from_status, target, detail
            )
            add_notice(session, job_id, CARD, key=str(event_id))
            if notice and notice not in CARD_ONLY:
                add_notice(session, job_id, notice, key=f"{notice}:{event_id}")
            if asked_ts:
                _react(session, change, asked_ts, event_id, fresh="asked_ts" in (values or {}))
            if where and SESSION[change.from_status] != SESSION[target]:
                _session_status(session, job_id, SESSION[target], key=str(event_id))
            return change
    raise TransitionRefused(job_id, _status(session, job_id), target)


def _status(session: Session, job_id: str) -> str:
    current = session.scalar(select(jobs.c.status).where(jobs.c.id == job_id))
    if current is None:
        raise JobNotFound(job_id)
    return str(current)


def _compare_and_set(
    session: Session, job_id: str, current: str, target: JobStatus, values: dict[str, Any]
) -> tuple[bool, str | None, str | None]:
    """Whether the job moved, the message that asked its current turn, if any, and its
    channel (read in the same statement: no extra round trip for either)."""
    now = utcnow()
    stamps: dict[str, Any] = {"status": target.value, "updated_at": now}
    if target in TERMINAL:
        stamps["finished_at"] = now
    stmt = (
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status == current)
        .values(**{**stamps, **values})
        .returning(jobs.c.asked_ts, jobs.c.channel_id)
    )
    row = session.execute(stmt).first()
    if row is None:
        return False, None, None
    return True, row.asked_ts, row.channel_id


def _react(
    session: Session, change: Transition, asked_ts: str, event_id: int, *, fresh: bool
) -> None:
    """The asking message's emoji follows the turn: how it ended once it ends, the eyes
    again when it starts over (a retry; a follow-up is a new message with nothing to take
    off)."""
    ended, before = ENDED.get(change.to_status), ENDED.get(change.from_status)
    if ended is not None:
        detail: dict[str, Any] = {"ts": asked_ts, "add": ended, "remove": [SEEN]}
    elif before is not None or fresh:
        detail = {"ts": asked_ts, "add": SEEN, "remove": [] if fresh else [before]}
    else:
        return
    add_notice(session, change.job_id, REACTION, key=f"{REACTION}:{event_id}", detail=detail)


def _session_status(session: Session, job_id: str, status: str, *, key: str) -> None:
    """The thread's agent status follows the job, in order with its news."""
    detail = {"status": status}
    add_notice(session, job_id, AGENT_STATUS, key=f"{AGENT_STATUS}:{key}", detail=detail)


def close_session(session: Session, job_id: str) -> None:
    """An archived job's thread is closed as an agent session (no more follow-ups shown)."""
    _session_status(session, job_id, "closed", key="archived")


def record_event(
    session: Session,
    job_id: str,
    actor: str,
    action: str,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: str | None = None,
) -> int:
    """Add one audit row and return its ID; for actions that change no status, from and
    to are left empty.

    One INSERT ... RETURNING, not an object for the session to flush: the worker writes
    an event for every start and finish, and the unit of work cost more than the row.
    The statement is built once and the row passed as parameters, which spares building
    its bind parameters on every call.
    """
    row = event_row(job_id, actor, action, from_status, to_status, detail=detail)
    event_id: int = session.execute(_ADD_EVENT, row).scalar_one()
    return event_id


def add_notice(
    session: Session,
    job_id: str,
    milestone: str,
    *,
    key: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Queue a milestone for the notifier in the same transaction as the change it reports.

    A milestone that only changes the status card is queued as a card notice (one per
    change; the notifier sends only the newest), keyed apart from the thread's news.
    """
    if milestone in CARD_ONLY or milestone == CARD:
        milestone, key = CARD, f"{CARD}:{key}"
    session.execute(_ADD_NOTICE, notice_row(job_id, milestone, key=key, detail=detail))


def event_row(
    job_id: str,
    actor: str,
    action: str,
    from_status: str | None = None,
    to_status: str | None = None,
    *,
    detail: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """An audit row with every column given, so a statement that nests the INSERT (the
    bot's one-statement store of a new job) needs no column defaults."""
    return {
        "job_id": job_id,
        "at": at or utcnow(),
        "actor": actor,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "detail": detail,
    }


def notice_row(
    job_id: str,
    milestone: str,
    *,
    key: str,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A milestone row, due at once, with every column given (as `event_row`)."""
    at = at or utcnow()
    row = {"job_id": job_id, "key": key, "milestone": milestone, "detail": detail}
    return {**row, "created_at": at, "next_try_at": at, "tries": 0}


_ADD_EVENT = insert(events).returning(events.c.id)
_ADD_NOTICE = insert(notices)
