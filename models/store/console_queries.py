"""Reading jobs for the operator's console: a filtered, sorted page of the job list, and a
job's notices. Nothing here writes.

A page is found in two steps: the IDs of its jobs, sorted, filtered and counted from
indexes alone (`ix_jobs_listing` holds every column the filters and sorts use;
`ix_jobs_status_created` serves a status), then those jobs' rows, only the columns it
shows. So a page deep in the list costs no more than the first, and no job row (large:
question and answer) is read for the jobs skipped. Only a search of the question reads
every row, as `LIKE '%…%'` must.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select

from models.db import Database
from models.ids import normalize_job_id
from models.job import Job, Notice

PER_PAGE = 50
PREVIEW = 160  # characters of the question in a row
SORTS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "newest": (Job.created_at.desc(), Job.id.desc()),
    "oldest": (Job.created_at.asc(), Job.id.asc()),
    "cost": (func.coalesce(Job.cost_usd, 0.0).desc(), Job.created_at.desc(), Job.id.desc()),
}


@dataclass(frozen=True)
class JobFilter:
    """What the operator narrowed the list to; None (or empty) is "any"."""

    status: str | None = None
    kind: str | None = None
    lane: str | None = None
    requester: str | None = None
    channel: str | None = None
    search: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """Equality on each field given; the search matches the question, or the ID."""
        found: list[ColumnElement[bool]] = [
            column == value
            for column, value in (
                (Job.status, self.status),
                (Job.kind, self.kind),
                (Job.lane, self.lane),
                (Job.requested_by, self.requester),
                (Job.channel_id, self.channel),
            )
            if value
        ]
        if self.search:
            found.append(_matches(self.search))
        return found

    def as_query(self) -> dict[str, str]:
        """The filter as URL parameters, without the empty ones."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name)}


def _matches(text: str) -> ColumnElement[bool]:
    """The question contains the words (any case; `%` and `_` taken literally), or the
    text is the job's ID as people type it."""
    contains = Job.input_text.icontains(text.strip(), autoescape=True)
    return or_(contains, Job.id == normalize_job_id(text))


@dataclass(frozen=True)
class JobRow:
    """One line of the list: what identifies the job, and the start of its question."""

    id: str
    kind: str
    lane: str
    status: str
    requested_by: str
    channel_id: str | None
    question: str
    cost_usd: float | None
    attempts: int
    stop_requested: str | None
    created_at: datetime
    finished_at: datetime | None
    purged_at: datetime | None


@dataclass(frozen=True)
class JobPage:
    """One page of the list, and how many jobs match in all."""

    rows: list[JobRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def list_jobs(
    db: Database, wanted: JobFilter, *, sort: str = "newest", page: int = 1, per: int = PER_PAGE
) -> JobPage:
    """Page `page` (from 1) of the jobs `wanted`, in the order `sort` (a key of SORTS)."""
    where = wanted.conditions()
    page = max(page, 1)
    ids = (
        select(Job.id)
        .where(*where)
        .order_by(*SORTS.get(sort, SORTS["newest"]))
        .limit(per)
        .offset((page - 1) * per)
    )
    with db.reading() as session:
        total = int(session.scalar(select(func.count()).select_from(Job).where(*where)) or 0)
        order = list(session.scalars(ids))
        found = session.execute(_rows().where(Job.id.in_(order))).all()
    rows = {row.id: JobRow(**row._asdict()) for row in found}
    return JobPage([rows[job_id] for job_id in order], total, page, per)


def _rows() -> Select[Any]:
    """The columns of a JobRow, in its order; the question cut in SQL, not in Python."""
    return select(
        Job.id,
        Job.kind,
        Job.lane,
        Job.status,
        Job.requested_by,
        Job.channel_id,
        func.substr(Job.input_text, 1, PREVIEW).label("question"),
        Job.cost_usd,
        Job.attempts,
        Job.stop_requested,
        Job.created_at,
        Job.finished_at,
        Job.purged_at,
    )


def job_notices(db: Database, job_id: str) -> list[Notice]:
    """Every piece of news about a job, delivered or not, oldest first."""
    with db.reading() as session:
        return list(
            session.scalars(select(Notice).where(Notice.job_id == job_id).order_by(Notice.id))
        )
