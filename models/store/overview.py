"""The console's overview, computed from what the database recorded: jobs by status,
result lag, provider and Slack errors, and spend, per hour or per day. Nothing here writes.

Each figure is grouped in SQL by a bucket of its own timestamp (`bucket`), so only one
row per bucket and series reaches Python, and read from indexes alone (see the console's
indexes in `models.job`). The lag is the exception: percentiles are not portable SQL, so
one pair of times per result delivered in the window reaches Python, sampled past
LAG_SAMPLE results.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, select

from models.db import Database
from models.job import Event, Job, Notice

# What a result's lag is measured on, as `errand_result_lag_seconds` measures it: from
# the provider's `completed_at` (kept in the job's output) to the notice's delivery.
RESULT_MILESTONES = ("completed", "needs_review")
LAG_SAMPLE = 10_000
# Events that record the provider failing us: a create refused, delayed or never
# answered, a response lost or failed (then retried automatically, or the job failed).
PROVIDER_FAULTS = {
    "start_held": "refused",
    "start_delayed": "refused",
    "start_unanswered": "unanswered",
    "lost": "unanswered",
    "start_failed": "failed",
    "auto_retry": "failed",
    "finish": "failed",  # only those that ended the job failed (see _provider_fault)
}


@dataclass(frozen=True)
class Window:
    """The span the overview covers, ending now, in hourly or daily buckets."""

    since: datetime
    until: datetime
    hourly: bool

    @classmethod
    def last(cls, now: datetime, *, hours: int) -> Window:
        """The last `hours`, by the hour up to two days, by the day beyond."""
        hourly = hours <= 48
        start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
        if not hourly:
            start = (now - timedelta(hours=hours - 24)).replace(hour=0, minute=0, second=0)
            start = start.replace(microsecond=0)
        return cls(start, now, hourly)

    def labels(self) -> list[str]:
        """Every bucket of the window in order, named as `bucket` names them in SQL."""
        step = timedelta(hours=1) if self.hourly else timedelta(days=1)
        found, moment = [], self.since
        while moment <= self.until:
            found.append(f"{moment:%Y-%m-%d %H}:00" if self.hourly else f"{moment:%Y-%m-%d}")
            moment += step
        return found


def bucket(db: Database, column: Any, hourly: bool) -> ColumnElement[str]:
    """The hour (`2026-11-28 14:00`) or day (`2026-11-28`) of a stored UTC time, as text."""
    if db.sqlite:
        return func.strftime("%Y-%m-%d %H:00" if hourly else "%Y-%m-%d", column)
    return func.to_char(column, "YYYY-MM-DD HH24:00" if hourly else "YYYY-MM-DD")


Counts = dict[str, dict[str, float]]  # bucket -> series -> value


def _grouped(db: Database, statement: object) -> Counts:
    """Rows of (bucket, series, value) as nested dicts."""
    found: Counts = defaultdict(dict)
    with db.engine.connect() as conn:
        for label, series, value in conn.execute(statement):  # type: ignore[call-overload]
            found[str(label)][str(series)] = float(value or 0)
    return dict(found)


def jobs_by_status(db: Database, window: Window) -> Counts:
    """Jobs asked for in each bucket, by the status they have now."""
    day = bucket(db, Job.created_at, window.hourly)
    return _grouped(
        db,
        select(day, Job.status, func.count(Job.id))
        .where(Job.created_at >= window.since)
        .group_by(day, Job.status),
    )


def spend_by_kind(db: Database, window: Window) -> Counts:
    """USD recorded for the jobs asked for in each bucket, by kind."""
    day = bucket(db, Job.created_at, window.hourly)
    return _grouped(
        db,
        select(day, Job.kind, func.sum(Job.cost_usd))
        .where(Job.created_at >= window.since, Job.cost_usd > 0)
        .group_by(day, Job.kind),
    )


def provider_errors(db: Database, window: Window) -> Counts:
    """The provider's failures recorded in each bucket, by what happened."""
    when = bucket(db, Event.at, window.hourly)
    statement = (
        select(when, Event.action, func.count(Event.id))
        .where(Event.at >= window.since, _provider_fault())
        .group_by(when, Event.action)
    )
    found: Counts = {}
    for label, actions in _grouped(db, statement).items():
        for action, count in actions.items():
            series = found.setdefault(label, {})
            name = PROVIDER_FAULTS[action]
            series[name] = series.get(name, 0) + count
    return found


def _provider_fault() -> ColumnElement[bool]:
    faults = [action for action in PROVIDER_FAULTS if action != "finish"]
    failed = and_(Event.action == "finish", Event.to_status == "failed")
    return or_(Event.action.in_(faults), failed)


def slack_errors(db: Database, window: Window) -> Counts:
    """News given up in each bucket (undeliverable), and news delivered after a failed try."""
    given_up = bucket(db, Notice.given_up_at, window.hourly)
    late = bucket(db, Notice.delivered_at, window.hourly)
    found = _grouped(
        db,
        select(given_up, literal("undeliverable"), func.count(Notice.id))
        .where(Notice.given_up_at >= window.since)
        .group_by(given_up),
    )
    retried = _grouped(
        db,
        select(late, literal("delivered after a failed try"), func.count(Notice.id))
        .where(Notice.delivered_at >= window.since, Notice.tries > 1)
        .group_by(late),
    )
    for label, series in retried.items():
        found.setdefault(label, {}).update(series)
    return found


@dataclass(frozen=True)
class Lags:
    """p50 and p99 of the result lag per bucket, from one result in `every` (a sample,
    beyond LAG_SAMPLE results: each needs its job's row, which is large)."""

    values: Counts
    every: int


def result_lag(db: Database, window: Window) -> Lags:
    """Seconds from the provider's completion to the result's delivery: p50 and p99 of
    the results delivered in each bucket."""
    results = and_(Notice.delivered_at >= window.since, Notice.milestone.in_(RESULT_MILESTONES))
    when = bucket(db, Notice.delivered_at, window.hourly)
    statement = (
        select(when, Notice.delivered_at, Job.output["completed_at"].as_float())
        .join(Job, Job.id == Notice.job_id)
        .where(results)
    )
    lags: dict[str, list[float]] = defaultdict(list)
    with db.engine.connect() as conn:
        count = int(conn.scalar(select(func.count()).select_from(Notice).where(results)) or 0)
        every = max(1, math.ceil(count / LAG_SAMPLE))
        if every > 1:
            statement = statement.where(Notice.id % every == 0)
        for label, delivered, completed in conn.execute(statement):
            if completed:
                lags[str(label)].append(max(delivered.timestamp() - completed, 0.0))
    values = {
        label: {"p50": percentile(found, 50), "p99": percentile(found, 99)}
        for label, found in lags.items()
    }
    return Lags(values, every)


def percentile(values: list[float], rank: float) -> float:
    """The nearest-rank percentile: the smallest value at or above `rank` % of them."""
    ordered = sorted(values)
    index = max(math.ceil(len(ordered) * rank / 100) - 1, 0)
    return ordered[min(index, len(ordered) - 1)]
