"""`errand worker`: one RQ worker on all of Errand's queues, with its pacer and scheduler."""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import SimpleWorker

from errand.metrics import serve_worker_metrics
from errand.runtime import Runtime, install
from worker.forks import end_children_with_this_process
from worker.pulse import Pacer
from worker.queues import ALL_QUEUES
from worker.ticks import beats

log = logging.getLogger(__name__)


def run_worker(runtime: Runtime, *, burst: bool = False) -> None:
    """Work until stopped; if Redis goes away, wait for it and carry on."""
    install(runtime)
    end_children_with_this_process()
    serve_worker_metrics(runtime.settings.metrics_port)
    pacer = None if burst else Pacer(runtime.redis, beats(runtime))
    if pacer:
        pacer.start()
    try:
        while True:
            stopped = _work_once(runtime, burst=burst)
            if stopped or burst:
                return
            time.sleep(1.0)
    finally:
        if pacer:
            pacer.stop()


def _work_once(runtime: Runtime, *, burst: bool) -> bool:
    """One RQ work loop; True when it ended on request (SIGTERM), False on a lost Redis."""
    try:
        # In-process tasks (no fork per task): pooled database and HTTP connections live
        # across tasks, and our tasks are short and never wait on a provider.
        worker = SimpleWorker(ALL_QUEUES, connection=runtime.redis)
        worker.work(burst=burst, with_scheduler=not burst, logging_level="WARNING")
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("Redis unavailable; retrying", extra={"error": str(exc)})
        return False
    return getattr(worker, "_shutdown_requested_date", None) is not None
