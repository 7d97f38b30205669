"""`errand worker`: one RQ worker on Errand's queue, with the worker's pulses beside it."""

from __future__ import annotations

import logging
import time
from types import FrameType
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import SimpleWorker

from worker.context import Context
from worker.dispatch import QUEUES
from worker.pulse import Pulses
from worker.pulses import pulses
from worker.tasks import CONTEXT

log = logging.getLogger(__name__)

# Python runs signal handlers on the main thread only, between steps: a SIGTERM the kernel
# hands to one of the pulse threads waits until the main thread's wait for a task ends.
# RQ waits `worker_ttl - 15` s (405 s by default); this bounds that wait to 5 s.
WORKER_TTL = 20


class ErrandWorker(SimpleWorker):
    """RQ's in-process worker (no fork per task: pooled database and HTTP connections
    live across tasks, and our tasks are short), handing each task the context."""

    def __init__(self, queues: list[str], *, context: Context, **kwargs: Any) -> None:
        super().__init__(queues, connection=context.redis, worker_ttl=WORKER_TTL, **kwargs)
        self.context = context

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """RQ's warm stop, kept even where its `StopRequested` is swallowed: raised from
        a signal handler, it can land inside code that catches every exception, and the
        work loop looks at this flag before each wait for a task."""
        self._stop_requested = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def execute_job(self, job: Any, queue: Any) -> Any:
        token = CONTEXT.set(self.context)
        try:
            return super().execute_job(job, queue)
        finally:
            CONTEXT.reset(token)


def run_worker(ctx: Context, *, burst: bool = False) -> None:
    """Work until stopped; if Redis goes away, wait for it and carry on."""
    running = None if burst else Pulses(ctx.redis, pulses(ctx))
    if running:
        running.start()
    try:
        while True:
            stopped = _work_once(ctx, burst=burst)
            if stopped or burst:
                return
            time.sleep(1.0)
    finally:
        if running:
            running.stop()


def _work_once(ctx: Context, *, burst: bool) -> bool:
    """One RQ work loop; True when it ended on request (SIGTERM), False on a lost Redis."""
    try:
        worker = ErrandWorker(QUEUES, context=ctx)
        worker.work(burst=burst, logging_level="WARNING")
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("Redis unavailable; retrying", extra={"error": str(exc)})
        return False
    return getattr(worker, "_shutdown_requested_date", None) is not None
