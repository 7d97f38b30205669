"""One reader per response stream across all workers: a Redis lease per response, held
and renewed by one keeper thread per process (all of its leases in one round trip). If
the worker dies the lease lapses, and another worker's follow pulse opens the stream
again, resuming after the cursor. A response whose stream cannot be read is left to
polling for a while under the same key, so no worker tries it again meanwhile."""

from __future__ import annotations

import logging
import secrets
import threading
import time

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

LEASE_KEY = "errand:stream:{response_id}"
LEASE_TTL = 10.0  # a dead worker's stream is taken over this long after its last renewal
KEEP_EVERY = 3.0  # how often the keeper renews the leases this process holds
POLLED = "polled"  # the key's value while a response is left to polling


class LeaseKeeper:
    """Holds this process's stream leases in Redis and renews them from one thread."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[Redis, str]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def take(self, redis: Redis, response_ids: list[str]) -> list[str]:
        """Take the leases of those responses nobody holds (one round trip); returns them."""
        tokens = [secrets.token_hex(8) for _ in response_ids]
        keys = [LEASE_KEY.format(response_id=r) for r in response_ids]
        pipe = redis.pipeline(transaction=False)
        for key, token in zip(keys, tokens, strict=True):
            pipe.set(key, token, nx=True, px=int(LEASE_TTL * 1000))
        try:
            answers = pipe.execute()
        except RedisError:
            return []
        taken = [i for i, ok in enumerate(answers) if ok]
        with self._lock:
            for i in taken:
                self._held[keys[i]] = (redis, tokens[i])
            if taken and self._thread is None:
                self._thread = threading.Thread(target=self._renew, name="errand-leases")
                self._thread.daemon = True
                self._thread.start()
        return [response_ids[i] for i in taken]

    def release(self, redis: Redis, response_id: str) -> None:
        key = LEASE_KEY.format(response_id=response_id)
        with self._lock:
            held = self._held.pop(key, None)
        if held is None:
            return
        try:
            if redis.get(key) == held[1].encode():
                redis.delete(key)
        except RedisError:
            log.warning("stream lease not released; it will lapse", extra={"key": key})

    def hand_to_polling(self, redis: Redis, response_id: str, seconds: float) -> None:
        """Give the lease up, and keep every worker's reader off the response for `seconds`:
        its job is polled meanwhile."""
        key = LEASE_KEY.format(response_id=response_id)
        with self._lock:
            self._held.pop(key, None)
        try:
            redis.set(key, POLLED, px=int(seconds * 1000))
        except RedisError:
            log.warning("stream lease not handed to polling", extra={"key": key})

    def _renew(self) -> None:
        while True:
            time.sleep(KEEP_EVERY)
            with self._lock:
                by_redis: dict[int, tuple[Redis, list[tuple[str, str]]]] = {}
                for key, (redis, token) in self._held.items():
                    by_redis.setdefault(id(redis), (redis, []))[1].append((key, token))
            for redis, leases in by_redis.values():
                _renew_all(redis, leases)


def _renew_all(redis: Redis, leases: list[tuple[str, str]]) -> None:
    pipe = redis.pipeline(transaction=False)
    for key, token in leases:
        pipe.set(key, token, xx=True, px=int(LEASE_TTL * 1000))
    try:
        pipe.execute()
    except RedisError:
        log.warning("stream leases not renewed", extra={"leases": len(leases)})


def held(redis: Redis, response_ids: list[str]) -> list[bool]:
    """Whether each response's stream is being read by some worker now."""
    pipe = redis.pipeline(transaction=False)
    for response_id in response_ids:
        pipe.exists(LEASE_KEY.format(response_id=response_id))
    return [bool(taken) for taken in pipe.execute()]
