"""Which of a job's agent-session statuses a notify claim sends.

Slack allows about 50 status changes a minute per workspace, so statuses go alone, beside
the job's news, never holding it up (`models.store.notice`). Of a job's pending statuses
only the newest is sent: it says how the job is now, and the older ones are superseded.
None is sent while an earlier one is in flight, since it could land after the newer one,
nor before the card's first post, the root of the thread it marks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, or_, update
from sqlalchemy.orm import Session

from models.job import Job, Notice
from models.notifier import AGENT_STATUS


def threaded_status() -> Any:
    """For the claim's query: a notice other than a status, or one whose thread exists."""
    return or_(Notice.milestone != AGENT_STATUS, Job.card_ts.is_not(None), Job.channel_id.is_(None))


def statuses_to_send(
    session: Session, rows: Sequence[Row[Any]], jobs: dict[str, Job], now: datetime
) -> list[Row[Any]]:
    """`rows` (a claim's pending notices, by job then age) less the statuses not to send
    now; the superseded ones are settled here, in the claim's transaction."""
    pending: dict[str, list[Row[Any]]] = {}
    for row in rows:
        if row.milestone == AGENT_STATUS:
            pending.setdefault(row.job_id, []).append(row)
    stale: set[int] = set()
    held: set[str] = set()
    for job_id, found in pending.items():
        job = jobs[job_id]
        in_flight = any(r.claimed_until and r.claimed_until > now for r in found)
        if in_flight or (job.channel_id and not job.card_ts):
            held.add(job_id)
        else:
            stale |= {r.id for r in found[:-1]}
    if stale:
        session.execute(
            update(Notice)
            .where(Notice.id.in_(stale))
            .values(delivered_at=now, last_error="superseded by a newer status")
        )
    return [
        r
        for r in rows
        if r.id not in stale and not (r.milestone == AGENT_STATUS and r.job_id in held)
    ]
