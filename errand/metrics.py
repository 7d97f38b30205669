"""Every Prometheus metric Errand exposes, defined in one place.

Two kinds live here:

* Counters and histograms that any process records (the bot, each worker).
* Families computed at scrape time from the database and Redis (`StateCollector`):
  jobs by status and kind, and RQ queue depths. Only the bot serves those.

Worker processes are separate from the bot. Two ways to see their counters:

* `PROMETHEUS_MULTIPROC_DIR` (set by `errand run` to `$ERRAND_DATA_DIR/metrics`):
  prometheus_client's multiprocess mode, every process on the host writes its
  values there and the bot's `GET /metrics` adds them all up. One scrape target.
* `ERRAND_METRICS_PORT` on a worker (for workers on other machines): that worker
  serves its own counters at `http://HOST:PORT/metrics`. Scrape each.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from errand.runtime import Runtime
    from worker.notify import Milestone

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
SLACK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

# -- the bot: requests from Slack --------------------------------------------------------

REQUESTS = Counter("errand_slack_requests_total", "Signed Slack requests handled", ["type"])
JOBS_STARTED = Counter("errand_slack_jobs_started_total", "Jobs started from Slack", ["kind"])
PRESSES = Counter("errand_button_presses_total", "Button presses", ["action", "outcome"])
ERRORS = Counter("errand_bot_errors_total", "Errors reaching the Bolt error handler", ["code"])
WEBHOOKS = Counter(
    "errand_webhook_deliveries_total",
    "OpenAI webhook deliveries by outcome (accepted, duplicate, ignored, bad_signature)",
    ["outcome"],
)

# -- any process: calls to the outside world --------------------------------------------

PROVIDER_CALLS = Counter(
    "errand_provider_calls_total",
    "Calls to the provider by endpoint (create, retrieve, cancel, stream) and outcome",
    ["endpoint", "outcome"],
)
SLACK_CALLS = Counter(
    "errand_slack_calls_total",
    "Slack Web API calls by method and outcome (ok, rate_limited, transient, or the error code)",
    ["method", "outcome"],
)
SLACK_RATE_LIMITED = Counter(
    "errand_slack_rate_limited_total",
    "HTTP 429 answers from Slack, including those the client waited out and retried",
    ["method"],
)

# -- the worker: how promptly it works ---------------------------------------------------

RESULT_LAG = Histogram(
    "errand_result_lag_seconds",
    "From the provider's completed_at to the notifier posting the result (whole seconds "
    "at the provider, so up to 1 s coarse)",
    buckets=LAG_BUCKETS,
)
FOLLOW_SLACK = Histogram(
    "errand_follow_check_slack_seconds",
    "How long after its due time a follow check was made",
    buckets=SLACK_BUCKETS,
)
TICK_FAILURES = Counter(
    "errand_pulse_tick_failures_total",
    "Pulse ticks (launch, follow, notify, recover) that raised; the next tick takes up "
    "their work, so a rate that stays up means a dependency is down",
    ["pulse"],
)
NOTICES = Counter(
    "errand_notices_total", "Milestones handed to the notifier", ["milestone", "outcome"]
)
STREAMS = Counter(
    "errand_streams_total",
    "Response streams opened (start, resume) and how they ended",
    ["phase", "outcome"],
)
STREAM_EVENTS = Counter("errand_stream_events_total", "Stream events read from the provider")


def provider_call(endpoint: str, outcome: str) -> None:
    """Count one provider call; `outcome` is ok, transient or permanent."""
    PROVIDER_CALLS.labels(endpoint, outcome).inc()


def slack_call(method: str, outcome: str) -> None:
    """Count one Slack Web API call as the caller saw it (after the client's own retries)."""
    SLACK_CALLS.labels(method, outcome).inc()
    if outcome == "rate_limited":
        SLACK_RATE_LIMITED.labels(method).inc()


def follow_checked(lateness: list[float]) -> None:
    """Seconds each check of one follow tick ran after it was due."""
    for seconds in lateness:
        FOLLOW_SLACK.observe(max(seconds, 0.0))


RESULT_MILESTONES = frozenset({"completed", "needs_review"})


def milestone_delivered(milestone: Milestone, *, ok: bool) -> None:
    """Count a delivery; for a result, observe the lag since the provider completed."""
    NOTICES.labels(milestone.name, "delivered" if ok else "later").inc()
    if not ok or milestone.name not in RESULT_MILESTONES:
        return
    completed_at = (milestone.job.output or {}).get("completed_at")
    if isinstance(completed_at, int | float) and completed_at > 0:
        RESULT_LAG.observe(max(time.time() - float(completed_at), 0.0))


# -- scrape time: the database and Redis as they are now ---------------------------------


class StateCollector:
    """Jobs by status and kind, and RQ queue depths, read when Prometheus scrapes."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "errand_metrics_source_up", "1 when a scrape-time source answered", labels=["source"]
        )
        for name, family in (("database", self._jobs), ("redis", self._queues)):
            try:
                yield family()
            except Exception as exc:  # a scrape must not fail because one source is down
                log.warning("metrics source failed", extra={"source": name, "error": str(exc)})
                up.add_metric([name], 0)
            else:
                up.add_metric([name], 1)
        yield up

    def _jobs(self) -> GaugeMetricFamily:
        from sqlalchemy import func, select

        from models.job import Job
        from models.lifecycle import JobStatus

        with self.runtime.engine.connect() as conn:
            rows = conn.execute(
                select(Job.status, Job.kind, func.count()).group_by(Job.status, Job.kind)
            ).all()
        counts = {(str(status), str(kind)): int(n) for status, kind, n in rows}
        for kind_name in self.runtime.kinds.kinds:
            for each in JobStatus:
                counts.setdefault((each.value, kind_name), 0)
        family = GaugeMetricFamily(
            "errand_jobs", "Jobs by status and kind, from the database", labels=["status", "kind"]
        )
        for labels, n in sorted(counts.items()):
            family.add_metric(list(labels), n)
        return family

    def _queues(self) -> GaugeMetricFamily:
        from worker.queues import ALL_QUEUES

        family = GaugeMetricFamily(
            "errand_queue_depth", "Tasks waiting in each RQ queue", labels=["queue"]
        )
        pipe = self.runtime.redis.pipeline(transaction=False)
        for name in ALL_QUEUES:
            pipe.llen(f"rq:queue:{name}")
        for name, depth in zip(ALL_QUEUES, pipe.execute(), strict=True):
            family.add_metric([name], int(depth))
        return family


class Exposition:
    """What `GET /metrics` serves: every process's counters plus the scrape-time state."""

    def __init__(self, runtime: Runtime) -> None:
        self.state = CollectorRegistry()
        self.state.register(StateCollector(runtime))

    def render(self) -> bytes:
        return generate_latest(_counters_registry()) + generate_latest(self.state)


def _counters_registry() -> Any:
    """All processes' values in multiprocess mode (built per scrape, as the library asks)."""
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def share_across_processes(env: dict[str, str], data_dir: str) -> None:
    """`errand run`: its children write their values to one fresh directory the bot reads."""
    if env.get(MULTIPROC_ENV):
        return
    path = Path(data_dir).resolve() / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    env[MULTIPROC_ENV] = str(path)


def serve_worker_metrics(port: int | None) -> None:
    """ERRAND_METRICS_PORT: this process's counters on their own HTTP port."""
    if port:
        start_http_server(port)
        log.info("worker metrics on port %s", port)
