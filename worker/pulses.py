"""The pulses every Errand worker keeps going, what each tick does, and how often
(the mechanism is `worker.pulse`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from rq.scheduler import RQScheduler

from models.retention import Policy, purge_due
from models.signals import wake
from models.store.backlog import overdue
from worker import launch, notify, recover
from worker.context import Context
from worker.dispatch import QUEUES
from worker.follow import Follower
from worker.held import HeldStreams
from worker.pressure import BEHIND, Pressure
from worker.pulse import Pulse
from worker.stream_reader import StreamReader

log = logging.getLogger(__name__)

# Launching on a small pool, in small ticks (launch.BATCH): a 300-job tick on 32
# threads ran for 9-12 s, starving the follow and notify pulses the whole time,
# and the pressure check (worker.pressure) only got its say at the next tick.
LAUNCH_THREADS = 8


def pulses(ctx: Context) -> list[Pulse]:
    """Each pulse with a pool of its own for its calls.

    Separate pools: a follow tick's 500 retrieves must not queue behind a
    launch tick's creates, nor a notify tick's Slack calls behind either.
    Launching gets the smallest: results come before new starts.
    """
    size = ctx.settings.follow_concurrency
    pressure = Pressure(lambda: overdue(ctx.db, by=BEHIND))
    following = Follower(
        ctx,
        ThreadPoolExecutor(size, thread_name_prefix="errand-follow"),
        on_finished=lambda: wake(ctx.redis, "notify"),
    )
    notifying = ThreadPoolExecutor(size, thread_name_prefix="errand-notify")
    # Held streams (zero data retention) are read by the worker that holds them.
    reader = StreamReader(ctx) if ctx.settings.streams_per_worker and not ctx.settings.zdr else None
    return [
        Pulse(
            "follow",
            lambda: _follow(following, reader),
            ctx.settings.follow_interval,
            woken=True,
        ),
        Pulse("notify", lambda: _notify(ctx, notifying), 0.25, woken=True, each_worker=True),
        _launching(ctx, pressure),
        Pulse("recover", lambda: str(recover.recover(ctx)), 5.0),
        Pulse("schedule", _scheduler(ctx), 1.0),
        Pulse("retention", lambda: _retention(ctx), ctx.settings.retention_interval),
    ]


def _launching(ctx: Context, pressure: Pressure) -> Pulse:
    """A launch pulse per worker, so launches scale with workers: each tick claims its own
    attempts (`models.store.claim`), which no other claim can take. Under zero data
    retention, each claims for its own slots (`worker.held`)."""
    if ctx.settings.zdr:
        return HeldStreams(ctx, pressure).pulse()
    launching = ThreadPoolExecutor(LAUNCH_THREADS, thread_name_prefix="errand-launch")
    return Pulse("launch", lambda: _launch(ctx, launching, pressure), 0.25, each_worker=True)


def _follow(follower: Follower, reader: StreamReader | None) -> str:
    """Open (or resume) the streams no worker reads, then start every check still due:
    a new response's stream opens before its first poll would be made."""
    if reader is not None:
        try:
            reader.redrive()
        except Exception:  # Redis or the database away: the checks below still run
            log.exception("streams not redriven; the next tick tries again")
    report = follower.tick()
    if report.checked:
        log.info("follow tick", extra=report.__dict__)
    return f"checked {report.checked}, finished {report.finished}, errors {report.errors}"


def _notify(ctx: Context, executor: ThreadPoolExecutor) -> str:
    delivery = notify.deliver_due(ctx.db, ctx.notifier, executor, right_of_way=ctx.right_of_way)
    return f"delivered {delivery.delivered}, oldest {delivery.late:.1f} s late"


def _launch(ctx: Context, executor: ThreadPoolExecutor, pressure: Pressure) -> str:
    limit = pressure.launch_limit(launch.BATCH)
    return f"started {launch.launch_due(ctx, executor, limit=limit)}"


def _retention(ctx: Context) -> str:
    report = purge_due(ctx.db, Policy.of(ctx.settings, ctx.kinds))
    if report.job_ids:
        log.info("purged", extra={"jobs": len(report.job_ids)})
    return f"purged {len(report.job_ids)}"


def _scheduler(ctx: Context) -> Callable[[], str]:
    """RQ's scheduler step: tasks waiting for a retry (`Retry(interval=...)`) go back on
    their queue when due. Run as a pulse instead of RQ's forked scheduler process, so a
    worker has no child to outlive it; the pulse's lease makes one run at a time."""
    scheduler = RQScheduler(QUEUES, connection=ctx.redis)
    scheduler.prepare_registries(QUEUES)

    def tick() -> str:
        scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
        return "scheduled"

    return tick
