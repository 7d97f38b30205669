"""Periodic ticks (follow, recover) that survive worker deaths and a flushed Redis.

Every worker runs a small pacer thread. A tick is enqueued only by whoever
wins a Redis `SET NX` with a lease, so N workers still give one tick per
period; the finished tick shortens the lease to the period. If the key is
lost (FLUSHALL) or its holder dies, the lease lapses and the next pacer
enqueues again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from worker.queues import QueueName

log = logging.getLogger(__name__)

KEY = "errand:pulse:{name}"
# How long a tick may stay queued or running before another may be enqueued:
# short, so a worker killed mid-tick stalls the beat briefly; a second tick
# running beside a slow one is harmless, since every tick claims its rows.
LEASE = 15.0


@dataclass(frozen=True)
class Beat:
    """A named tick: its task, how often, and how long one may take before another starts."""

    name: str
    func: str
    period: float
    lease: float


def beats(follow_period: float) -> list[Beat]:
    """The ticks every Errand worker keeps going."""
    return [
        Beat("follow", "worker.tasks.follow_tick", follow_period, LEASE),
        Beat("launch", "worker.tasks.launch_tick", 0.25, LEASE),
        Beat("notify", "worker.tasks.notify_tick", 0.25, LEASE),
        Beat("recover", "worker.tasks.recover_tick", 5.0, LEASE),
    ]


def period_of(name: str, follow_period: float) -> float:
    """The period of the beat called `name`: the one place periods are set."""
    return next(beat.period for beat in beats(follow_period) if beat.name == name)


def done(redis: Redis, name: str, period: float) -> None:
    """Called by a finished tick: the next one may start after `period`."""
    try:
        redis.set(KEY.format(name=name), "done", px=max(int(period * 1000), 1))
    except RedisError:
        log.warning("pulse key not shortened", extra={"pulse": name})


def wake(redis: Redis, name: str) -> None:
    """Let the next tick go now instead of after the period (best effort)."""
    key = KEY.format(name=name)
    try:
        if redis.get(key) == b"done":
            redis.delete(key)
    except RedisError:
        log.warning("pulse not woken", extra={"pulse": name})


class Pacer(threading.Thread):
    """Wakes a few times a second and enqueues any tick whose lease is free."""

    def __init__(
        self,
        redis: Redis,
        schedule: list[Beat],
        *,
        wake: float = 0.1,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        super().__init__(name="errand-pacer", daemon=True)
        self._redis = redis
        self._schedule = schedule
        self._wake = wake
        self._halt = threading.Event()
        self._on_error = on_error

    def run(self) -> None:
        queue = Queue(QueueName.PULSE.value, connection=self._redis)
        while not self._halt.wait(self._wake):
            for beat in self._schedule:
                self._maybe_enqueue(queue, beat)

    def stop(self) -> None:
        self._halt.set()

    def _maybe_enqueue(self, queue: Queue, beat: Beat) -> None:
        try:
            if self._redis.set(
                KEY.format(name=beat.name), "queued", nx=True, px=int(beat.lease * 1000)
            ):
                queue.enqueue_call(beat.func, result_ttl=0, failure_ttl=600, timeout=120)
        except RedisError as exc:
            if self._on_error:
                self._on_error(exc)
            log.warning("pacer cannot reach Redis", extra={"error": str(exc)})
