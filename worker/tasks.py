"""RQ entry points. Each takes IDs only and rebuilds what it needs from the database."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from errand.runtime import Runtime, current
from worker import follow, launch, notify, pulse, recover, stop, stream

log = logging.getLogger(__name__)

SLOW_TICK = 1.0


@cache
def _executor(size: int) -> ThreadPoolExecutor:
    """One pool per worker process, reused by every follow tick."""
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="errand-follow")


def stop_job(job_id: str) -> str:
    """Cancel or expire a job at the provider."""
    return stop.stop(current(), job_id)


def stream_job(job_id: str) -> str:
    """Read a streaming job's events on a thread of this worker (see worker.stream)."""
    return stream.stream_job(current(), job_id)


def _tick(name: str, work: Callable[[Runtime], str]) -> str:
    """Run one beat's work; however it ends, the next beat may start after the period."""
    runtime = current()
    began = time.monotonic()
    try:
        return work(runtime)
    finally:
        period = pulse.period_of(name, runtime.settings.follow_interval)
        pulse.done(runtime.redis, name, period)
        took = time.monotonic() - began
        if took > SLOW_TICK:  # the other pulses of this worker waited that long
            log.info("slow tick", extra={"pulse": name, "seconds": round(took, 3)})


def _pool(runtime: Runtime) -> ThreadPoolExecutor:
    return _executor(runtime.settings.follow_concurrency)


def launch_tick() -> str:
    """Start every queued attempt that is free to start."""
    return _tick("launch", lambda rt: f"started {launch.launch_due(rt, _pool(rt))}")


def notify_tick() -> str:
    """Send every due milestone to the notifier."""
    return _tick("notify", lambda rt: f"delivered {notify.deliver_due(rt, _pool(rt))}")


def follow_tick() -> str:
    """Check every due response, and start or resume the streams of streaming kinds."""
    return _tick("follow", _follow)


def _follow(runtime: Runtime) -> str:
    report = follow.follow_due(runtime, _pool(runtime))
    stream.redrive(runtime)
    if report.checked:
        log.info("follow tick", extra=report.__dict__)
    return f"checked {report.checked}, finished {report.finished}, errors {report.errors}"


def recover_tick() -> str:
    """Re-drive from the database whatever Redis lost."""
    return _tick("recover", lambda rt: str(recover.recover(rt)))
