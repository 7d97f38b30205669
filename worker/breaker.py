"""A circuit breaker on the provider, shared by every worker through Redis.

When provider calls fail too often, new launches stop (jobs wait in
`queued`), jobs in flight keep being followed, and after a cool-down one
launch goes through as a probe: its success closes the breaker, its
failure opens it again. Losing Redis resets it to closed, which is safe.

A configuration error (the provider refuses our key, our project, our model, our
quota) holds launches the same way, from the first one, with what to fix: no job can
start until someone acts, and none should fail meanwhile. A probe launch per cool-down
finds out when it works again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PREFIX = "errand:breaker"
LAUNCHES = frozenset({"create", "batches.create"})  # the calls that start work: they close it


class BreakerState(StrEnum):
    CLOSED = "closed"  # launching normally
    OPEN = "open"  # holding launches until the cool-down ends
    HALF_OPEN = "half_open"  # one probe launch may go


@dataclass(frozen=True)
class BreakerPolicy:
    """Trip on at least `min_failures` in a window where they are `ratio` of all calls."""

    window: int = 30
    min_failures: int = 5
    ratio: float = 0.5
    cooldown: int = 15


class Breaker:
    """Counts provider outcomes per time window and decides whether launches may go."""

    def __init__(self, redis: Redis, policy: BreakerPolicy | None = None) -> None:
        self.redis = redis
        self.policy = policy or BreakerPolicy()

    def record(self, endpoint: str, ok: bool) -> None:
        """One provider call's outcome: transient errors count against, answers for.

        Every call can trip the breaker; only a launch (`create`) can close it,
        since a provider that answers reads may still refuse new work.
        """
        try:
            if ok:
                self._success(closes=endpoint in LAUNCHES)
            else:
                self._failure(reopens=endpoint in LAUNCHES)
        except RedisError as exc:
            log.warning("breaker cannot reach Redis", extra={"error": str(exc)})

    def state(self) -> BreakerState:
        try:
            tripped, cooling, config = self.redis.mget(
                f"{PREFIX}:tripped", f"{PREFIX}:open", f"{PREFIX}:config"
            )
        except RedisError:
            return BreakerState.CLOSED
        if not (tripped or config):
            return BreakerState.CLOSED
        return BreakerState.OPEN if cooling else BreakerState.HALF_OPEN

    def hold_for_config(self, problem: str) -> None:
        """The provider refused our configuration (`problem` names what, in our words):
        hold every launch until a probe succeeds. The first holder's problem is kept."""
        try:
            self.redis.set(f"{PREFIX}:config", f"{int(time.time())}|{problem}", nx=True)
            self.redis.set(f"{PREFIX}:open", "1", ex=self.policy.cooldown)
            self.redis.delete(f"{PREFIX}:probe")
        except RedisError as exc:
            log.warning("breaker cannot reach Redis", extra={"error": str(exc)})

    def config_problem(self) -> tuple[str, str] | None:
        """(hold ID, problem) while launches are held for a configuration error."""
        value = _text(self.redis.get(f"{PREFIX}:config"))
        if value is None:
            return None
        since, _, problem = value.partition("|")
        return f"config:{since}", problem

    def launches_allowed(self, wanted: int) -> int:
        """How many launches may go now: all, none, or one probe per cool-down."""
        state = self.state()
        if state == BreakerState.CLOSED:
            return wanted
        if state == BreakerState.OPEN:
            return 0
        probe = self.redis.set(f"{PREFIX}:probe", "1", nx=True, ex=self.policy.cooldown)
        return 1 if probe and wanted else 0

    def trip_id(self) -> str | None:
        """Identifies the current opening, so each one is announced once."""
        return _text(self.redis.get(f"{PREFIX}:tripped"))

    def _bucket(self) -> str:
        return f"{PREFIX}:w:{int(time.time()) // self.policy.window}"

    def _success(self, *, closes: bool) -> None:
        held = self.redis.mget(f"{PREFIX}:tripped", f"{PREFIX}:config")
        if closes and any(held):
            # Close with a clean slate: the failures that tripped it must not trip it again.
            self.redis.delete(
                f"{PREFIX}:tripped",
                f"{PREFIX}:config",
                f"{PREFIX}:open",
                f"{PREFIX}:probe",
                self._bucket(),
            )
            log.warning("provider calls succeed again; launches resume")
        bucket = self._bucket()
        pipe = self.redis.pipeline()
        pipe.hincrby(bucket, "ok", 1)
        pipe.expire(bucket, self.policy.window * 2)
        pipe.execute()

    def _failure(self, *, reopens: bool) -> None:
        if reopens and self.redis.get(f"{PREFIX}:tripped"):
            self._open()
            return
        bucket = self._bucket()
        pipe = self.redis.pipeline()
        pipe.hincrby(bucket, "fail", 1)
        pipe.expire(bucket, self.policy.window * 2)
        pipe.hgetall(bucket)
        counts = pipe.execute()[2]
        failures = int(counts.get(b"fail", 0))
        total = failures + int(counts.get(b"ok", 0))
        if failures >= self.policy.min_failures and failures >= self.policy.ratio * total:
            self._open()

    def _open(self) -> None:
        opened = self.redis.set(f"{PREFIX}:tripped", str(int(time.time())), nx=True)
        self.redis.set(f"{PREFIX}:open", "1", ex=self.policy.cooldown)
        self.redis.delete(f"{PREFIX}:probe")
        if opened:
            log.warning("provider failing; holding new launches")


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
