"""Periodic ticks (follow, launch, notify, recover) that survive worker deaths and a flushed Redis.

Every worker runs each beat on a thread of its own, so a slow notify tick
(Slack rate-limiting us) never holds up the follow tick that finishes jobs.
A tick runs only on the worker that wins a Redis `SET NX` with a lease, so N
workers still give one tick per period; the finished tick shortens the lease
to the period. If the key is lost (FLUSHALL) or its holder dies, the lease
lapses and another worker runs the next tick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY = "errand:pulse:{name}"
# How long a tick may run before another worker may start one: short, so a
# worker killed mid-tick stalls the beat briefly; a second tick running beside
# a slow one is harmless, since every tick claims its rows.
LEASE = 15.0
SLOW_TICK = 1.0
WAKE = 0.1


@dataclass(frozen=True)
class Beat:
    """A named tick: what it runs and how often."""

    name: str
    run: Callable[[], str]
    period: float


def _done(redis: Redis, name: str, period: float) -> None:
    """The tick is over: the next one may start after `period`."""
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


class Pacer:
    """One thread per beat: wakes a few times a second and runs the tick when its lease is free."""

    def __init__(self, redis: Redis, schedule: list[Beat], *, wake: float = WAKE) -> None:
        self._redis = redis
        self._wake = wake
        self._halt = threading.Event()
        self._threads = [
            threading.Thread(target=self._keep, args=(b,), name=f"errand-{b.name}", daemon=True)
            for b in schedule
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, *, grace: float = 30.0) -> None:
        """Start no more ticks and let the running ones finish their transactions."""
        self._halt.set()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))

    def _keep(self, beat: Beat) -> None:
        while not self._halt.wait(self._wake):
            if self._leased(beat):
                self._tick(beat)

    def _leased(self, beat: Beat) -> bool:
        try:
            key = KEY.format(name=beat.name)
            return bool(self._redis.set(key, "running", nx=True, px=int(LEASE * 1000)))
        except RedisError as exc:
            log.warning("pacer cannot reach Redis", extra={"pulse": beat.name, "error": str(exc)})
            return False

    def _tick(self, beat: Beat) -> None:
        """Run one tick; however it ends, the next may start after the period."""
        began = time.monotonic()
        try:
            outcome = beat.run()
        except Exception:
            log.exception("tick failed", extra={"pulse": beat.name})
            outcome = "failed"
        finally:
            _done(self._redis, beat.name, beat.period)
        took = time.monotonic() - began
        if took > SLOW_TICK:
            extra = {"pulse": beat.name, "seconds": round(took, 3), "outcome": outcome}
            log.info("slow tick", extra=extra)
