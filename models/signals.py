"""Signals between processes, through Redis: a doorbell that wakes a worker's pulse, and
webhook deliveries for responses no job holds (yet).

A delivery for an unknown response either overtook its create call's answer (the start
stores the ID in a moment) or is a stray: a create whose answer never came (a timeout, a
5xx, a worker that died) made it. The worker settles what stays unknown
(`worker.responses.settle_strays`): adopted by its attempt, or cancelled.

All are hints that make work happen sooner; losing them (Redis flushed or down) only
delays it, or leaves a stray to the attempt's own wait and re-try.
"""

from __future__ import annotations

import logging
import time

from redis import Redis
from redis.exceptions import RedisError

from models.db import Database
from models.store.checks import check_now

log = logging.getLogger(__name__)

WOKEN = "errand:pulse:{name}:woken"
EARLY = "errand:webhook:early:{response_id}"
STRAYS = "errand:webhook:strays"  # sorted set: response ID -> when to look at it
REMEMBER_FOR = 600


def woken_key(pulse: str) -> str:
    """The Redis list a pulse listens on for wakes."""
    return WOKEN.format(name=pulse)


def wake(redis: Redis, pulse: str) -> None:
    """Let the pulse's next tick go now instead of after its period (best effort).

    One wake is as good as many, so the list keeps one entry.
    """
    key = woken_key(pulse)
    try:
        pipe = redis.pipeline(transaction=False)
        pipe.lpush(key, 1)
        pipe.ltrim(key, 0, 0)
        pipe.expire(key, 60)
        pipe.execute()
    except RedisError:
        log.warning("pulse not woken", extra={"pulse": pulse})


def remember_early(redis: Redis, response_id: str) -> None:
    """A quick response can finish, and its webhook arrive, before the worker has stored
    the response ID: keep the delivery for a while, so the start makes the job's check
    due as soon as it stores the ID instead of leaving it to the slow safety-net poll."""
    try:
        pipe = redis.pipeline(transaction=False)
        pipe.set(EARLY.format(response_id=response_id), "1", ex=REMEMBER_FOR)
        pipe.zadd(STRAYS, {response_id: time.time()})
        pipe.execute()
    except RedisError:
        log.warning("early webhook not remembered", extra={"response_id": response_id})


def arrived_early(redis: Redis, response_id: str) -> bool:
    """Whether a delivery came before this response ID was stored (asked once)."""
    try:
        pipe = redis.pipeline(transaction=False)
        pipe.delete(EARLY.format(response_id=response_id))
        pipe.zrem(STRAYS, response_id)
        return bool(pipe.execute()[0])
    except RedisError:
        return False


# Due strays are leased, not removed: moved to "look again after the lease" in one step
# (so each is taken by one worker), and removed only once settled. A worker killed while
# it settles one leaves it to the next after the lease, instead of losing it (an orphan).
_TAKE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return due
"""
STRAY_LEASE = 30.0


def take_strays(redis: Redis, *, older_than: float, limit: int) -> list[str]:
    """Unknown responses delivered at least `older_than` seconds ago, each leased to one
    worker; `stray_settled` ends the lease for good."""
    now = time.time()
    try:
        due = redis.eval(_TAKE, 1, STRAYS, now - older_than, now + STRAY_LEASE, limit)
    except RedisError:
        return []
    return [r.decode() if isinstance(r, bytes) else str(r) for r in due]


def stray_settled(redis: Redis, response_id: str) -> None:
    """The stray is adopted, cancelled or known: never look at it again."""
    try:
        redis.zrem(STRAYS, response_id)
    except RedisError:  # looked at once more after the lease: settling is idempotent
        log.warning("stray not cleared", extra={"response_id": response_id})


def stray_again(redis: Redis, response_id: str, *, after: float) -> None:
    """Look at a stray again later (the provider did not answer about it)."""
    try:
        redis.zadd(STRAYS, {response_id: time.time() + after})
    except RedisError:
        log.warning("stray forgotten", extra={"response_id": response_id})


def response_changed(db: Database, redis: Redis, response_id: str) -> bool:
    """A webhook says this response changed: make its job's check due and wake the follow
    pulse. False when no active job waits on it (remembered, in case the start has not
    stored the ID yet)."""
    if check_now(db, response_id) is None:
        remember_early(redis, response_id)
        return False
    wake(redis, "follow")
    return True
