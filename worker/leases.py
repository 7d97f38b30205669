"""One reader per response stream across all workers: a Redis lease per response, held
and renewed by one keeper thread per process. If the worker dies the lease lapses, and
another worker's follow pulse opens the stream again, resuming after the cursor."""

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


class LeaseKeeper:
    """Holds this process's stream leases in Redis and renews them from one thread."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[Redis, str]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def take(self, redis: Redis, response_id: str) -> str | None:
        key = LEASE_KEY.format(response_id=response_id)
        token = secrets.token_hex(8)
        try:
            if not redis.set(key, token, nx=True, px=int(LEASE_TTL * 1000)):
                return None
        except RedisError:
            return None
        with self._lock:
            self._held[key] = (redis, token)
            if self._thread is None:
                self._thread = threading.Thread(target=self._renew, name="errand-leases")
                self._thread.daemon = True
                self._thread.start()
        return token

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

    def _renew(self) -> None:
        while True:
            time.sleep(KEEP_EVERY)
            with self._lock:
                held = list(self._held.items())
            for key, (redis, token) in held:
                try:
                    redis.set(key, token, xx=True, px=int(LEASE_TTL * 1000))
                except RedisError:
                    log.warning("stream lease not renewed", extra={"key": key})


def held(redis: Redis, response_ids: list[str]) -> list[bool]:
    """Whether each response's stream is being read by some worker now."""
    pipe = redis.pipeline(transaction=False)
    for response_id in response_ids:
        pipe.exists(LEASE_KEY.format(response_id=response_id))
    return [bool(taken) for taken in pipe.execute()]
