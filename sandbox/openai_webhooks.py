"""Signed webhook deliveries for the OpenAI stand-in.

Statuses are computed lazily, so nothing "happens" when a response finishes. To still send
``response.completed`` & co. on time, one dispatcher thread sleeps until the earliest due time in
a heap and then asks the state (through ``resolve``) what, if anything, to deliver. Thousands
of live responses therefore cost one heap entry each, never one thread each. HTTP posts run on
a small fixed pool so a slow receiver does not delay other deliveries.

Deliveries follow Standard Webhooks exactly as the ``openai`` SDK verifies them: headers
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">``, keyed by the base64 part of a ``whsec_...`` secret.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import httpx

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.5, 2.0, 5.0)
_POST_TIMEOUT = 5.0
_POOL_SIZE = 4


@dataclass(frozen=True)
class Delivery:
    """One webhook event; ``event_id`` stays the same across retries, as the spec requires."""

    url: str
    secret: str
    event_id: str
    body: str
    attempt: int = 0
    generation: int = 0


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` value for one attempt."""
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    signed = f"{msg_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(delivery: Delivery, now: float) -> dict[str, str]:
    """Headers for one attempt; the timestamp is the send time, so re-signed per retry."""
    timestamp = int(now)
    return {
        "content-type": "application/json",
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(delivery.secret, delivery.event_id, timestamp, delivery.body),
    }


def event_delivery(
    url: str, secret: str, event_type: str, object_id: str, created_at: float
) -> Delivery:
    """A signed event such as ``response.completed`` or ``batch.failed`` about one object.

    The event id is derived from the object's id, so a repeat (a retry) keeps it.
    """
    event_id = "evt_" + hashlib.sha256(f"evt_{object_id}".encode()).hexdigest()[:48]
    event = {
        "id": event_id,
        "object": "event",
        "created_at": int(created_at),
        "type": event_type,
        "data": {"id": object_id},
    }
    return Delivery(url, secret, event_id, json.dumps(event))


Resolver = Callable[[str], Delivery | float | None]


class WebhookDispatcher:
    """A due-time heap served by one lazily started daemon thread."""

    def __init__(self, resolve: Resolver, on_result: Callable[[bool], None]) -> None:
        """``resolve(object_id)`` returns a delivery, a later due time, or ``None`` (skip)."""
        self._resolve = resolve
        self._on_result = on_result
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, str | Delivery]] = []
        self._counter = itertools.count()
        self._generation = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(_POOL_SIZE, thread_name_prefix="sandbox-webhook")
        self._http = httpx.Client(timeout=_POST_TIMEOUT)

    def schedule(self, due: float, item: str | Delivery) -> None:
        """Queue an object id (response or batch, resolved when due) or a delivery retry."""
        with self._cond:
            if self._closed:
                return
            if isinstance(item, Delivery) and item.generation != self._generation:
                return
            heapq.heappush(self._heap, (due, next(self._counter), item))
            self._ensure_thread()
            self._cond.notify()

    def clear(self) -> None:
        """Forget everything pending (sandbox reset); in-flight retries are dropped too."""
        with self._cond:
            self._heap.clear()
            self._generation += 1

    def close(self) -> None:
        """Stop the thread and release the HTTP client; used when a test server shuts down."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            due = self._next_due()
            if due is None:
                return
            for item in due:
                self._dispatch(item)

    def _next_due(self) -> list[str | Delivery] | None:
        """Block until at least one item is due; ``None`` once closed."""
        with self._cond:
            while not self._closed:
                now = time.time()
                if self._heap and self._heap[0][0] <= now:
                    items = []
                    while self._heap and self._heap[0][0] <= now:
                        items.append(heapq.heappop(self._heap)[2])
                    return items
                timeout = self._heap[0][0] - now if self._heap else None
                self._cond.wait(timeout)
            return None

    def _dispatch(self, item: str | Delivery) -> None:
        if isinstance(item, str):
            resolved = self._resolve(item)
            if isinstance(resolved, float):
                self.schedule(resolved, item)
                return
            if resolved is None:
                return
            with self._cond:
                item = replace(resolved, generation=self._generation)
        with contextlib.suppress(RuntimeError):  # the pool refuses work once closing
            self._pool.submit(self._post, item)

    def _post(self, delivery: Delivery) -> None:
        try:
            headers = signed_headers(delivery, time.time())
            answer = self._http.post(delivery.url, content=delivery.body, headers=headers)
            ok = answer.is_success
        except httpx.HTTPError as exc:
            log.info("webhook %s to %s failed: %s", delivery.event_id, delivery.url, exc)
            ok = False
        self._on_result(ok)
        if not ok and delivery.attempt < len(RETRY_DELAYS):
            retry = replace(delivery, attempt=delivery.attempt + 1)
            self.schedule(time.time() + RETRY_DELAYS[delivery.attempt], retry)
