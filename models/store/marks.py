"""Marks a person puts on a job without changing its status: archive (a finished job
leaves `/jobs` and App Home, and is kept) and escalate (on-call is shown the job once,
and its thread says so). Each is a compare-and-set: the first press wins, later ones
are told it was done already."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import Database
from models.errors import ErrandError, JobNotFound
from models.job import jobs
from models.notifier import CARD
from models.status import ESCALATABLE, TERMINAL, JobStatus
from models.store.lifecycle import add_notice, close_session, record_event

MARKED = {"archived_at": "archived", "escalated_at": "escalated to on-call"}
ONLY = {
    "archived_at": "only finished jobs can be archived",
    "escalated_at": "only queued, running or failed jobs can be escalated",
}


class MarkRefused(ErrandError):
    """The job carries the mark already, or its status does not take it; nothing changed."""

    code = "mark_refused"


def archive(db: Database, job_id: str, *, actor: str) -> None:
    """Hide a finished job from the lists people see; its record stays whole."""
    with db.unit() as unit:
        _mark(unit.session, job_id, "archived_at", TERMINAL)
        record_event(unit.session, job_id, actor, "archived")
        add_notice(unit.session, job_id, CARD, key="archived")
        close_session(unit.session, job_id)


def escalate(db: Database, job_id: str, *, actor: str) -> None:
    """Post the job to on-call (once) and say so in its thread."""
    with db.unit() as unit:
        _mark(unit.session, job_id, "escalated_at", ESCALATABLE)
        record_event(unit.session, job_id, actor, "escalated")
        add_notice(unit.session, job_id, "escalation", key="escalation", detail={"by": actor})
        add_notice(unit.session, job_id, "escalated", key="escalated", detail={"by": actor})
        add_notice(unit.session, job_id, CARD, key="escalated")


def _mark(session: Session, job_id: str, column: str, allowed: frozenset[JobStatus]) -> None:
    """Set the mark if the job is unmarked and in an allowed status, else say why not."""
    row = session.execute(
        select(jobs.c.status, jobs.c[column]).where(jobs.c.id == job_id).with_for_update()
    ).first()
    if row is None:
        raise JobNotFound(job_id)
    if row[1] is not None:
        raise MarkRefused(f"Job `{job_id}` is {MARKED[column]} already; nothing changed.")
    if row[0] not in allowed:
        status = str(row[0]).replace("_", " ")
        raise MarkRefused(f"Job `{job_id}` is {status}; {ONLY[column]}; nothing changed.")
    session.execute(update(jobs).where(jobs.c.id == job_id).values({column: utcnow()}))
