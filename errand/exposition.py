"""What `GET /metrics` serves, and how the counters of several processes add up.

The counters and histograms are defined where they are recorded (`bot.metrics`,
`worker.metrics`); the families computed at scrape time from the database and Redis
(jobs by status and kind, RQ queue depths) are here, since only the top floor knows
both the store and the worker's queue.

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
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from redis import Redis

import bot.metrics
import worker.metrics
from models.db import Database
from models.kinds import KindsConfig
from models.status import TERMINAL, JobStatus
from models.store.queries import counts
from worker.dispatch import QUEUES

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Every family appears on every /metrics, even before its process records a value.
FAMILIES = (bot.metrics, worker.metrics)
# Live jobs are counted at every scrape; finished ones at most this often (seconds).
ENDED_TTL = 60.0
LIVE = [status.value for status in JobStatus if status not in TERMINAL]


# -- scrape time: the database and Redis as they are now ---------------------------------


class StateCollector:
    """Jobs by status and kind, and RQ queue depths, read when Prometheus scrapes."""

    def __init__(self, db: Database, redis: Redis, kinds: KindsConfig) -> None:
        self.db = db
        self.redis = redis
        self.kinds = kinds
        self._ended_counts: dict[tuple[str, str], int] = {}
        self._ended_at = -ENDED_TTL

    def _ended(self) -> dict[tuple[str, str], int]:
        """Finished jobs by status and kind, counted at most once per ENDED_TTL: they are
        most of the table, and a scrape must not read it all each time."""
        now = time.monotonic()
        if now - self._ended_at >= ENDED_TTL:
            self._ended_counts = counts(self.db, [status.value for status in TERMINAL])
            self._ended_at = now
        return self._ended_counts

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
        found = {**self._ended(), **counts(self.db, LIVE)}
        for kind_name in self.kinds.kinds:
            for each in JobStatus:
                found.setdefault((each.value, kind_name), 0)
        family = GaugeMetricFamily(
            "errand_jobs", "Jobs by status and kind, from the database", labels=["status", "kind"]
        )
        for labels, n in sorted(found.items()):
            family.add_metric(list(labels), n)
        return family

    def _queues(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "errand_queue_depth", "Tasks waiting in each RQ queue", labels=["queue"]
        )
        pipe = self.redis.pipeline(transaction=False)
        for name in QUEUES:
            pipe.llen(f"rq:queue:{name}")
        for name, depth in zip(QUEUES, pipe.execute(), strict=True):
            family.add_metric([name], int(depth))
        return family


class Exposition:
    """What `GET /metrics` serves: every process's counters plus the scrape-time state."""

    def __init__(self, db: Database, redis: Redis, kinds: KindsConfig) -> None:
        self.state = CollectorRegistry()
        self.state.register(StateCollector(db, redis, kinds))

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


def serve_metrics(port: int | None) -> None:
    """ERRAND_METRICS_PORT on a worker: its counters on an HTTP port of their own (the
    bot serves its whole exposition there itself: `bot.web`)."""
    if port:
        start_http_server(port)
        log.info("metrics on port %s", port)
