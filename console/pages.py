"""The console's pages: the job list, one job, and the overview."""

from __future__ import annotations

from typing import Any

import flask

from console import card, charts
from console.config import ConsoleConfig
from models.base import utcnow
from models.export import job_summary
from models.status import JobStatus
from models.store import console_queries, overview, queries
from models.store.console_queries import JobFilter

# Lanes the contract names; a kinds file may add others.
LANES = ("interactive", "background", "batch", "approval")
RANGES = {"24h": 24, "7d": 7 * 24, "30d": 30 * 24}
SPEND_HOURS = 14 * 24  # spend is per day: at least two weeks of days


def register(app: flask.Flask, config: ConsoleConfig) -> None:
    @app.get("/")
    def jobs() -> str:
        return _jobs(config)

    @app.get("/jobs/<job_id>")
    def job(job_id: str) -> str:
        return render_job(config, job_id)

    @app.get("/overview")
    def overview_page() -> str:
        return _overview(config)


def _jobs(config: ConsoleConfig) -> str:
    args = flask.request.args
    wanted = JobFilter(
        status=_one_of(args.get("status"), [s.value for s in JobStatus]),
        kind=_text(args.get("kind")),
        lane=_text(args.get("lane")),
        requester=_text(args.get("requester")),
        channel=_text(args.get("channel")),
        search=_text(args.get("q"), 200),
    )
    sort = _one_of(args.get("sort"), list(console_queries.SORTS)) or "newest"
    found = console_queries.list_jobs(config.db, wanted, sort=sort, page=_page(args.get("page")))
    return flask.render_template(
        "jobs.html",
        found=found,
        wanted=wanted,
        sort=sort,
        statuses=[s.value for s in JobStatus],
        kinds=sorted(config.kinds.kinds),
        lanes=sorted({*LANES, *(k.lane for k in config.kinds.kinds.values())}),
        sorts=list(console_queries.SORTS),
        link=lambda **changes: _link(wanted, sort, changes),
        label=card.label_of,
    )


def _text(value: str | None, limit: int = 64) -> str | None:
    cleaned = (value or "").strip()[:limit]
    return cleaned or None


def _one_of(value: str | None, allowed: list[str]) -> str | None:
    return value if value in allowed else None


def _page(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 1_000_000 else 1


def _link(wanted: JobFilter, sort: str, changes: dict[str, Any]) -> str:
    """The list's URL with the current filter and sort, and `changes` (another page)."""
    params: dict[str, Any] = {**wanted.as_query(), **changes}
    if "search" in params:
        params["q"] = params.pop("search")
    if sort != "newest":
        params["sort"] = sort
    if params.get("page") == 1:
        params.pop("page")
    return flask.url_for("jobs", **params)


def render_job(
    config: ConsoleConfig, job_id: str, *, said: str | None = None, refused: bool = False
) -> str:
    """One job: its card, facts, output, attempts, timeline and news. `said` is the
    outcome of an action just taken on it, or why it was `refused`."""
    job = queries.get_job(config.db, job_id)
    kind = config.kinds.kinds.get(job.kind)
    return flask.render_template(
        "job.html",
        job=job,
        facts=job_summary(job),
        title=kind.title if kind else job.kind,
        card=card,
        events=queries.history(config.db, job.id),
        notices=console_queries.job_notices(config.db, job.id),
        said=said or _done(flask.request.args.get("done")),
        refused=refused,
    )


DONE = {
    "canceled": "Canceled: it had not reached the provider.",
    "canceling": "Canceling: a worker is cancelling its response at the provider.",
    "already_canceling": "It was already being canceled.",
    "retried": "Queued again as a new attempt.",
}


def _done(code: str | None) -> str | None:
    return DONE.get(code or "")


def _overview(config: ConsoleConfig) -> str:
    chosen = _one_of(flask.request.args.get("range"), list(RANGES)) or "7d"
    now = utcnow()
    window = overview.Window.last(now, hours=RANGES[chosen])
    days = overview.Window.last(now, hours=max(RANGES[chosen], SPEND_HOURS))
    labels = window.labels()
    db = config.db
    lags = overview.result_lag(db, window)
    return flask.render_template(
        "overview.html",
        ranges=list(RANGES),
        chosen=chosen,
        hourly=window.hourly,
        status=charts.stacked(labels, overview.jobs_by_status(db, window), charts.STATUS_ORDER),
        lag=charts.lines(labels, lags.values, ["p50", "p99"], unit="s"),
        lag_every=lags.every,
        provider=charts.stacked(labels, overview.provider_errors(db, window)),
        slack=charts.stacked(labels, overview.slack_errors(db, window)),
        spend=charts.stacked(days.labels(), overview.spend_by_kind(db, days), unit="$"),
    )
