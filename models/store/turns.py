"""Turns: a follow-up in a job's thread continues the job as its next turn.

A follow-up reopens a job that ended with an answer: the job is queued again on a new
attempt, and its new turn names the response it continues (the last answered turn's),
which the launch sends as `previous_response_id`. Who may ask and when is decided here,
in one place for every way a follow-up arrives; each refusal is a sentence for the asker.
A repeated delivery of the same follow-up (its key) adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import Database
from models.errors import FollowUpRefused, JobPurged, TransitionRefused
from models.job import Job
from models.kinds import Kind, KindsConfig
from models.status import ACTIVE, CONTINUABLE, JobStatus
from models.store.attempt import open_attempt
from models.store.lifecycle import transition
from models.store.queries import get_job
from models.store.submission import validate_input
from models.turn import Turn, turns

EARLIER_CHARS = 60_000  # of earlier turns' text, when a turn must start afresh (the latest)
WAITING = frozenset({JobStatus.NEEDS_REVIEW, JobStatus.AWAITING_APPROVAL})


@dataclass(frozen=True)
class FollowUp:
    """The job after a follow-up, and whether this delivery added its turn (False: a
    repeated delivery of one already taken)."""

    job: Job
    added: bool


@dataclass(frozen=True)
class TurnInput:
    """What the launch of a job's current turn sends: its question, the response it
    continues, and the earlier turns as text for when that response cannot be named."""

    text: str
    previous_response_id: str | None = None
    earlier: str = ""


def continue_job(
    db: Database,
    kinds: KindsConfig,
    job_id: str,
    text: str,
    *,
    actor: str,
    asked_ts: str | None = None,
    key: str | None = None,
) -> FollowUp:
    """Queue `text` as the job's next turn, or raise `FollowUpRefused` saying why not."""
    job = get_job(db, job_id)
    if key and _taken(db, key):
        return FollowUp(job, added=False)
    kind = kinds.get(job.kind)
    _may_continue(job, kind, actor)
    text = validate_input(kind, text)
    try:
        with db.unit() as unit:
            previous = _last_answer(unit.session, job.id)
            if previous is None:
                raise FollowUpRefused(_NOTHING_YET.format(job=job.id))
            _next_turn(unit.session, kind, job, text, actor, asked_ts, key, previous)
    except (TransitionRefused, IntegrityError) as lost:  # another follow-up won the race
        if key and _taken(db, key):
            return FollowUp(get_job(db, job.id), added=False)
        raise FollowUpRefused(_BUSY.format(job=job.id, turn=job.turn)) from lost
    return FollowUp(get_job(db, job.id), added=True)


_BUSY = (
    "Job `{job}` is still working on turn {turn}; ask your follow-up once its answer is "
    "in this thread."
)
_NOTHING_YET = (
    "Job `{job}` has no answer to follow up on yet: press Retry on its card to run it again."
)


def _may_continue(job: Job, kind: Kind, actor: str) -> None:
    """Refuse, with the sentence the asker sees, what may not become a next turn."""
    status = JobStatus(job.status)
    if kind.follow_ups == "none":
        raise FollowUpRefused(
            f"{kind.title} jobs answer once; mention Errand outside this thread to ask anew."
        )
    if kind.follow_ups == "requester" and actor != job.requested_by:
        raise FollowUpRefused(
            f"Only <@{job.requested_by}> can continue job `{job.id}`; mention Errand "
            "outside this thread to start a job of your own."
        )
    if job.purged_at is not None:
        raise JobPurged(job.id)
    if status in ACTIVE:
        raise FollowUpRefused(_BUSY.format(job=job.id, turn=job.turn))
    if status in WAITING:
        raise FollowUpRefused(
            f"Job `{job.id}` waits for an approver; follow up once it is decided."
        )
    if status not in CONTINUABLE:
        raise FollowUpRefused(
            f"Job `{job.id}` was rejected; press Redraft on its thread to write it again."
        )


def _last_answer(session: Session, job_id: str) -> str | None:
    """The response of the job's last turn that answered (its text is the context)."""
    return session.scalar(
        select(turns.c.response_id)
        .where(
            turns.c.job_id == job_id,
            turns.c.response_id.is_not(None),
            turns.c.output_text.is_not(None),
        )
        .order_by(turns.c.number.desc())
        .limit(1)
    )


def _next_turn(
    session: Session,
    kind: Kind,
    job: Job,
    text: str,
    actor: str,
    asked_ts: str | None,
    key: str | None,
    previous: str,
) -> None:
    """The job queued again on a new attempt, and its new turn, in one transaction."""
    number, attempt = job.turn + 1, job.attempts + 1
    fresh: dict[str, Any] = {
        "turn": number,
        "attempts": attempt,
        "asked_ts": asked_ts,
        "error": None,
        "provider_error": None,
        "output_text": None,
        "next_check_at": None,
        "stop_requested": None,
        "stop_requested_by": None,
        "finished_at": None,
        "stuck_alerted_at": None,
        "deadline_at": utcnow() + timedelta(seconds=kind.timeout_seconds),
    }
    transition(
        session,
        job.id,
        JobStatus.QUEUED,
        actor=actor,
        action="follow_up",
        sources=CONTINUABLE,
        detail=f"turn {number}: {text[:200]}",
        values=fresh,
    )
    open_attempt(session, job.id, attempt)
    row = {
        "job_id": job.id,
        "number": number,
        "actor": actor,
        "input_text": text,
        "message_ts": asked_ts,
        "idempotency_key": key,
        "previous_response_id": previous,
        "created_at": utcnow(),
    }
    session.execute(insert(turns), row)


def _taken(db: Database, key: str) -> bool:
    with db.reading() as session:
        found = session.scalar(select(turns.c.id).where(turns.c.idempotency_key == key))
    return found is not None


# -- the launch and the end of a turn -----------------------------------------------------


def turn_input(session: Session, job: Job) -> TurnInput:
    """What the launch of the job's current turn sends (turn 1: the job's own input)."""
    if job.turn_number <= 1:
        return TurnInput(job.input_text)
    rows = session.execute(
        select(
            turns.c.number, turns.c.input_text, turns.c.output_text, turns.c.previous_response_id
        )
        .where(turns.c.job_id == job.id, turns.c.number <= job.turn)
        .order_by(turns.c.number)
    ).all()
    *earlier, current = rows
    return TurnInput(current.input_text, current.previous_response_id, _transcript(earlier))


def _transcript(earlier: list[Any]) -> str:
    """The earlier turns as text, the latest kept when they are long."""
    parts = [
        f"Question (turn {row.number}):\n{row.input_text}\n\nAnswer (turn {row.number}):\n"
        f"{row.output_text or '(no answer)'}"
        for row in earlier
    ]
    text = "\n\n".join(parts)[-EARLIER_CHARS:]
    return (
        "Earlier turns of this conversation, for context (the question to answer now "
        f"follows them):\n\n{text}\n\nThe question to answer now:\n"
    )


def end_turn(
    session: Session,
    job_id: str,
    number: int,
    *,
    response_id: str,
    status: str | None,
    output_text: str | None,
    cost: float | None,
) -> None:
    """A turn's attempt ended: its response and cost; its answer when the job took it
    (`status` given), else only the cost (a retry follows, or the job had moved on)."""
    values: dict[str, Any] = {"response_id": response_id}
    if cost is not None:
        values["cost_usd"] = _added(cost)
    if status is not None:
        values.update(status=status, output_text=output_text, finished_at=utcnow())
    session.execute(
        update(turns).where(turns.c.job_id == job_id, turns.c.number == number).values(values)
    )


def _added(cost: float) -> Any:
    return func.coalesce(turns.c.cost_usd, 0.0) + cost


def forget_previous(db: Database, job_id: str, number: int) -> None:
    """The provider no longer keeps the response this turn continues: the turn starts
    afresh, with the earlier turns' text as its context."""
    with db.unit() as unit:
        unit.session.execute(
            update(turns)
            .where(turns.c.job_id == job_id, turns.c.number == number)
            .values(previous_response_id=None)
        )


def turns_of(db: Database, job_id: str) -> list[Turn]:
    """A job's turns, first to last."""
    with db.reading() as session:
        return list(
            session.scalars(select(Turn).where(Turn.job_id == job_id).order_by(Turn.number))
        )
