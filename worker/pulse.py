"""Pulses: the worker's periodic work (follow, launch, notify, recover, schedule), each a
named tick repeated every period, surviving worker deaths and a flushed Redis.

Every worker runs each pulse on a thread of its own, so a slow notify tick
(Slack rate-limiting us) never holds up the follow tick that finishes jobs.
A tick runs only on the worker that takes a Redis key with a lease, so N
workers still give one tick per period; the finished tick shortens the lease
to the period. If the key is lost (FLUSHALL) or its holder dies, the lease
lapses and another worker runs the next tick. A pulse that each worker ticks (launch and
notify, whose ticks claim their rows one claimer at a time: `worker.pulses`) has a lease
of its own on every worker.

A pulse that others wake (`models.signals.wake`: a webhook makes a check due; a
finished check has a result to tell) listens on a Redis list instead of sleeping
between looks, so a wake starts its tick at once, or right after the tick in progress.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from models.signals import woken_key
from worker.metrics import TICK_FAILURES

log = logging.getLogger(__name__)

KEY = "errand:pulse:{name}"
# How long a tick may run before another worker may start one: short, so a
# worker killed mid-tick stalls the pulse briefly; a second tick running beside
# a slow one is harmless, since every tick claims its rows.
LEASE = 15.0
SLOW_TICK = 1.0
WAKE = 0.1


@dataclass(frozen=True)
class Pulse:
    """A named tick: what it runs and how often."""

    name: str
    run: Callable[[], str]
    period: float
    woken: bool = False  # others call `wake` for it: it listens rather than polls
    each_worker: bool = False  # every worker ticks it, under a lease of its own
    on_stop: Callable[[], None] | None = None  # once no tick runs, as the worker stops


def _done(redis: Redis, key: str, period: float) -> None:
    """The tick is over: the next one may start after `period`."""
    try:
        redis.set(key, "done", px=max(int(period * 1000), 1))
    except RedisError:
        log.warning("pulse key not shortened", extra={"pulse": key})


# Take the lease if it is free, or if it only waits out the period and the pulse was woken.
_LEASE = """
local held = redis.call('GET', KEYS[1])
if held == 'running' or (held and ARGV[2] == '0') then return 0 end
redis.call('SET', KEYS[1], 'running', 'PX', ARGV[1])
return 1
"""


class Pulses:
    """One thread per pulse: looks a few times a second and ticks when its lease is free."""

    def __init__(self, redis: Redis, pulses: list[Pulse], *, wake: float = WAKE) -> None:
        self._redis = redis
        self._wake = wake
        self._lease = redis.register_script(_LEASE)
        self._pulses = pulses
        self._own = uuid.uuid4().hex[:12]  # this process's leases of its each-worker pulses
        self._halt = threading.Event()
        self._threads = [
            threading.Thread(target=self._keep, args=(p,), name=f"errand-{p.name}", daemon=True)
            for p in pulses
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, *, grace: float = 30.0) -> None:
        """Start no more ticks and let the running ones finish their transactions; then
        let each pulse hand over what it holds (`Pulse.on_stop`)."""
        self._halt.set()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        for pulse in self._pulses:
            if pulse.on_stop is not None:
                pulse.on_stop()

    def _keep(self, pulse: Pulse) -> None:
        while not self._halt.is_set():
            woken = self._rest(pulse)
            if not self._halt.is_set() and self._leased(pulse, woken=woken):
                self._tick(pulse)

    def _rest(self, pulse: Pulse) -> bool:
        """Wait a moment before the next look; True when someone woke the pulse."""
        if pulse.woken:
            with contextlib.suppress(RedisError):  # Redis down: sleep; the lease look logs it
                key = woken_key(pulse.name)
                return self._redis.blpop([key], timeout=self._wake) is not None
        self._halt.wait(self._wake)
        return False

    def _leased(self, pulse: Pulse, *, woken: bool) -> bool:
        try:
            key = self._key(pulse)
            lease = int(LEASE * 1000)
            return bool(self._lease(keys=[key], args=[lease, int(woken)]))
        except RedisError as exc:
            log.warning("pulse cannot reach Redis", extra={"pulse": pulse.name, "error": str(exc)})
            return False

    def _key(self, pulse: Pulse) -> str:
        return KEY.format(name=f"{pulse.name}-{self._own}" if pulse.each_worker else pulse.name)

    def _tick(self, pulse: Pulse) -> None:
        """Run one tick; however it ends, the next may start after the period."""
        began = time.monotonic()
        try:
            outcome = pulse.run()
        except Exception:
            log.exception("tick failed", extra={"pulse": pulse.name})
            TICK_FAILURES.labels(pulse.name).inc()
            outcome = "failed"
        finally:
            _done(self._redis, self._key(pulse), pulse.period)
        took = time.monotonic() - began
        if took > SLOW_TICK:
            extra = {"pulse": pulse.name, "seconds": round(took, 3), "outcome": outcome}
            log.info("slow tick", extra=extra)
