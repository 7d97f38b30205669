"""What jobs cost, summed by requester, channel or kind, for `errand costs`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from models.db import Database
from models.job import Job

GROUPS = {"user": Job.requested_by, "channel": Job.channel_id, "kind": Job.kind}


@dataclass(frozen=True)
class CostLine:
    """One group's jobs since the date asked for, and what they cost in all."""

    key: str
    jobs: int
    cost_usd: float


def costs_by(db: Database, by: str, since: datetime) -> list[CostLine]:
    """Jobs asked for since `since`, grouped by `by` (a key of GROUPS), costliest first.
    Jobs with no channel (from the CLI) group under `-`."""
    column = GROUPS[by]
    statement = (
        select(column, func.count(Job.id), func.coalesce(func.sum(Job.cost_usd), 0.0))
        .where(Job.created_at >= since)
        .group_by(column)
    )
    with db.reading() as session:
        rows = session.execute(statement).all()
    lines = [CostLine(str(key or "-"), int(count), float(cost or 0)) for key, count, cost in rows]
    return sorted(lines, key=lambda line: (-line.cost_usd, line.key))
