"""What each of a worker's beats does, and how often (see worker.pulse)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from errand.runtime import Runtime
from worker import follow, launch, notify, recover, stream
from worker.pressure import Pressure
from worker.pulse import Beat, wake

log = logging.getLogger(__name__)

# Launching on a small pool, in small ticks (launch.BATCH): a 300-job tick on 32
# threads ran for 9-12 s, starving the follow and notify pulses the whole time,
# and the pressure check (worker.pressure) only got its say at the next tick.
LAUNCH_THREADS = 8


def beats(runtime: Runtime) -> list[Beat]:
    """The ticks every Errand worker keeps going, each with a pool of its own for its calls.

    Separate pools: a follow tick's 500 retrieves must not queue behind a
    launch tick's creates, nor a notify tick's Slack calls behind either.
    Launching gets the smallest: results come before new starts.
    """
    size = runtime.settings.follow_concurrency
    pressure = Pressure()
    following = follow.Follower(
        runtime,
        ThreadPoolExecutor(size, thread_name_prefix="errand-follow"),
        on_finished=lambda: wake(runtime.redis, "notify"),
    )
    notifying = ThreadPoolExecutor(size, thread_name_prefix="errand-notify")
    launching = ThreadPoolExecutor(LAUNCH_THREADS, thread_name_prefix="errand-launch")
    return [
        Beat(
            "follow",
            lambda: _follow(runtime, following, pressure),
            runtime.settings.follow_interval,
            woken=True,
        ),
        Beat("notify", lambda: _notify(runtime, notifying, pressure), 0.25, woken=True),
        Beat("launch", lambda: _launch(runtime, launching, pressure), 0.25),
        Beat("recover", lambda: str(recover.recover(runtime)), 5.0),
    ]


def _follow(runtime: Runtime, follower: follow.Follower, pressure: Pressure) -> str:
    """Start every due check, and start or resume the streams of streaming kinds."""
    report = follower.tick()
    pressure.report("follow", report.max_slack)
    stream.redrive(runtime)
    if report.checked:
        log.info("follow tick", extra=report.__dict__)
    return f"checked {report.checked}, finished {report.finished}, errors {report.errors}"


def _notify(runtime: Runtime, executor: ThreadPoolExecutor, pressure: Pressure) -> str:
    delivery = notify.deliver_due(runtime, executor)
    pressure.report("notify", delivery.late)
    return f"delivered {delivery.delivered}"


def _launch(runtime: Runtime, executor: ThreadPoolExecutor, pressure: Pressure) -> str:
    limit = pressure.launch_limit(launch.BATCH)
    return f"started {launch.launch_due(runtime, executor, limit=limit)}"
