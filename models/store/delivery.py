"""A notice's delivery recorded the moment it ends: delivered, to be tried again after a
wait, or given up; and what a multi-part delivery has sent so far.

Each record is fenced by the claim the delivery held (`models.store.notice`), so a
worker whose lease ran out, and whose notice another worker took, changes nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, bindparam, update

from models.base import utcnow
from models.db import Database
from models.job import Notice, jobs, notices

MAX_TRIES = 8


@dataclass(frozen=True)
class Outcome:
    """How one notice went: delivered (with job fields to store), to be tried again after
    `wait` seconds, or given up."""

    notice_id: int
    job_id: str
    fence: datetime | None  # the claim this delivery held; a settle under another is void
    changes: dict[str, Any] | None = None
    wait: float | None = None
    error: str | None = None
    progress: dict[str, Any] | None = None
    tried: bool = True  # a Slack call was made (a budget wait is not a try)
    given_up: bool = False


def save_progress(db: Database, notice_id: int, fence: datetime, progress: dict[str, Any]) -> None:
    """What a multi-part delivery has sent so far, saved before its next part goes out."""
    with db.unit() as unit:
        unit.session.execute(
            update(Notice)
            .where(Notice.id == notice_id, Notice.claimed_until == fence)
            .values(detail=progress)
        )


def settle(db: Database, outcome: Outcome) -> None:
    """Record one delivery the moment it ends, under the claim it held (fenced: a worker
    whose lease ran out changes nothing), with the job fields the notifier returned.

    Every delivery ends here, so it runs on Core statements built once per shape: the
    ORM's bulk UPDATE (coercing the expressions, then syncing the session) cost the
    notify pulse more CPU than the Slack call it records."""
    values = _notice_values(outcome, utcnow())
    params = {f"v_{name}": value for name, value in values.items() if name != "tries"}
    with db.engine.begin() as connection:
        changed = connection.execute(
            _settle_notice(tuple(values)),
            {**params, "b_id": outcome.notice_id, "b_fence": outcome.fence},
        ).rowcount
        if changed and outcome.changes:
            job_values = {f"v_{name}": value for name, value in outcome.changes.items()}
            connection.execute(
                _update_job(tuple(outcome.changes)), {**job_values, "b_id": outcome.job_id}
            )


@functools.cache
def _settle_notice(fields: tuple[str, ...]) -> Update:
    values: dict[str, Any] = {
        f: bindparam(f"v_{f}", type_=notices.c[f].type) for f in fields if f != "tries"
    }
    if "tries" in fields:
        values["tries"] = notices.c.tries - 1  # nothing was sent: not a try
    fence = notices.c.claimed_until.is_not_distinct_from(bindparam("b_fence"))
    return update(notices).where(notices.c.id == bindparam("b_id"), fence).values(values)


@functools.cache
def _update_job(fields: tuple[str, ...]) -> Update:
    values = {f: bindparam(f"v_{f}", type_=jobs.c[f].type) for f in fields}
    return update(jobs).where(jobs.c.id == bindparam("b_id")).values(values)


def _notice_values(outcome: Outcome, now: datetime) -> dict[str, Any]:
    if outcome.given_up:
        return {"given_up_at": now, "claimed_until": None, "last_error": _short(outcome.error)}
    if outcome.wait is None:
        return {"delivered_at": now}
    fields: dict[str, Any] = {"claimed_until": None}
    if not outcome.tried:
        fields["tries"] = None  # see `_settle_notice`
    if outcome.progress is not None:  # what a multi-part delivery already sent
        fields["detail"] = outcome.progress
    if outcome.error is not None:
        fields["last_error"] = _short(outcome.error)
    fields["next_try_at"] = now + timedelta(seconds=outcome.wait)
    return fields


def _short(error: str | None) -> str | None:
    return error[:500] if error else None


def backoff(tries: int, hinted: float | None) -> float:
    """Seconds before try `tries + 1`: the provider's hint, else 5 s doubling to 5 min."""
    if hinted is not None:
        return hinted
    return float(min(5 * 2 ** max(tries - 1, 0), 300))
