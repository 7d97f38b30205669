"""Purging what retention no longer allows: a job's input, output and the text around
them go; the row, its cost, its attempts and its events stay as the audit stub.

Purged: the question (`input_text` becomes empty), the answer (`output_text`, `output`),
each turn's question and answer,
the provider's error texts (they may quote the question), the reviewer's note, the
Slack `response_url`, the events' free-text details, and the job's notices (a progress
notice carries the answer so far). What stays answers "who asked what kind of job, when,
what happened to it, and what did it cost".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, false, or_, select, update
from sqlalchemy.orm import selectinload

from models.db import Database
from models.job import Event, Job, attempts, events, jobs, notices
from models.job_file import job_files
from models.notifier import CARD
from models.status import TERMINAL
from models.turn import turns


def due_for_purge(
    db: Database, cutoffs: dict[str, datetime], default: datetime | None, *, limit: int | None
) -> list[str]:
    """Ended, unpurged jobs that ended before their kind's cutoff (`cutoffs`, by kind) or,
    for other kinds, before `default`; oldest first."""
    query = select(Job.id).where(_expired(cutoffs, default)).order_by(Job.finished_at, Job.id)
    with db.unit() as unit:
        return list(unit.session.scalars(query.limit(limit)))


def with_events(db: Database, job_ids: Sequence[str]) -> list[tuple[Job, list[Event]]]:
    """The jobs with their attempts and events, as an archive keeps them."""
    query = (
        select(Job)
        .where(Job.id.in_(job_ids))
        .order_by(Job.finished_at, Job.id)
        .options(selectinload(Job.attempt_rows), selectinload(Job.events))
    )
    with db.unit() as unit:
        return [(job, list(job.events)) for job in unit.session.scalars(query)]


def purge_jobs(db: Database, job_ids: Sequence[str], now: datetime) -> int:
    """Remove the contents of these jobs (see the module's docstring); the count purged.
    A job already purged is left as it is."""
    with db.unit() as unit:
        done: int = unit.session.execute(
            update(jobs)
            .where(jobs.c.id.in_(job_ids), jobs.c.purged_at.is_(None))
            .values(
                input_text="",
                output_text=None,
                output=None,
                provider_error=None,
                decision_note=None,
                response_url=None,
                purged_at=now,
            )
        ).rowcount  # type: ignore[attr-defined]
        where = attempts.c.job_id.in_(job_ids)
        unit.session.execute(update(attempts).where(where).values(provider_error=None))
        unit.session.execute(update(events).where(events.c.job_id.in_(job_ids)).values(detail=None))
        unit.session.execute(delete(notices).where(notices.c.job_id.in_(job_ids)))
        in_turns = turns.c.job_id.in_(job_ids)
        unit.session.execute(update(turns).where(in_turns).values(input_text="", output_text=None))
        files = job_files.c.job_id.in_(job_ids)
        unit.session.execute(update(job_files).where(files).values(data=None))
    return done


def _expired(cutoffs: dict[str, datetime], default: datetime | None) -> ColumnElement[bool]:
    """Ended before the cutoff that applies to the job's kind, with all its news told."""
    per_kind = [and_(Job.kind == kind, Job.finished_at < at) for kind, at in cutoffs.items()]
    if default is not None:
        per_kind.append(and_(Job.kind.not_in(list(cutoffs)), Job.finished_at < default))
    undelivered = select(notices.c.id).where(
        notices.c.job_id == Job.id,
        notices.c.delivered_at.is_(None),
        notices.c.given_up_at.is_(None),
        # A card edit is news only where there is a card (a job from Slack).
        or_(notices.c.milestone != CARD, Job.card_ts.is_not(None)),
    )
    return and_(
        Job.purged_at.is_(None),
        ~undelivered.exists(),  # its news reaches Slack first: nobody loses an answer
        Job.status.in_([status.value for status in TERMINAL]),
        Job.finished_at.is_not(None),
        or_(false(), *per_kind),
    )
