"""Injected faults: what the next calls to an endpoint suffer, and for how long.

A fault is posted to ``/_sandbox/faults`` as JSON (one object or a list)::

    {"endpoint": "create",          # see ENDPOINTS; "stream" is any Server-Sent Events answer
     "status": 500,                 # answer this HTTP status (body by class, see openai_errors)
     "error": "insufficient_quota", # or pick the class; its status is implied
     "html": false,                 # gateway statuses: Cloudflare's HTML page instead of JSON
     "made": false,                 # true: do the work first (the response is created, runs,
                                    #   bills, fires its webhook), then answer the error/reset
     "reset": false,                # close the connection without any answer
     "drop_after": 5,               # "stream" only: cut the stream after this many events
     "delay": 0.0,                  # hold the call this long before serving it
     "answer_delay": 0.0,           # serve it, then hold the answer (past a client's timeout)
     "retry_after": 7,              # a retry-after header on the error
     "service_tier": "flex",        # only requests asking for this tier
     "count": 3,                    # at most this many hits (default 1 without "seconds")
     "seconds": 60,                 # active for this long (unlimited hits unless "count")
     "probability": 0.1}            # each matching call is hit with this chance

Faults are matched oldest first; a call takes at most one.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, replace
from typing import Any

from sandbox.openai_errors import CLASSES, status_of

ENDPOINTS = (
    "create",
    "retrieve",
    "cancel",
    "stream",
    "files.create",
    "files.retrieve",
    "files.content",
    "files.delete",
    "batches.create",
    "batches.retrieve",
    "batches.cancel",
    "batches.list",
)


@dataclass
class Fault:
    """One injected fault; ``remaining=None`` means unlimited while ``until`` has not passed."""

    endpoint: str
    status: int | None = None
    error: str | None = None
    remaining: int | None = 1
    until: float | None = None
    probability: float = 1.0
    made: bool = False
    reset: bool = False
    html: bool = False
    delay: float = 0.0
    answer_delay: float = 0.0
    retry_after: float | None = None
    drop_after: int | None = None
    service_tier: str | None = None

    def live(self, now: float) -> bool:
        """Still able to fire: hits left and its window open."""
        left = self.remaining is None or self.remaining > 0
        return left and (self.until is None or now < self.until)

    @property
    def answers_error(self) -> bool:
        """Whether the client hears an error (rather than a late or dropped answer)."""
        return self.status is not None


def parse_fault(spec: Any, now: float) -> Fault:
    """Validate one JSON fault spec; ``ValueError``/``TypeError`` say what is wrong."""
    if not isinstance(spec, dict):
        raise TypeError("expected an object")
    unknown = set(spec) - _KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    endpoint = spec.get("endpoint")
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}")
    fault = Fault(endpoint, **_effect(spec), **_window(spec, now))
    if not (fault.status or fault.reset or fault.delay or fault.answer_delay or _drops(fault)):
        raise ValueError("the fault does nothing: give status, error, reset, delay ...")
    return fault


_KEYS = frozenset(
    {
        *("endpoint", "status", "error", "html", "made", "reset", "drop_after", "delay"),
        *("answer_delay", "retry_after", "service_tier", "count", "seconds", "probability"),
    }
)


def _drops(fault: Fault) -> bool:
    return fault.drop_after is not None


def _effect(spec: dict[str, Any]) -> dict[str, Any]:
    error = spec.get("error")
    if error is not None and error not in CLASSES:
        raise ValueError(f"error must be one of {', '.join(CLASSES)}")
    status = spec.get("status")
    status = status_of(error) if status is None and error else status
    if status is not None and not 400 <= int(status) <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    drop_after = spec.get("drop_after")
    if drop_after is not None and spec["endpoint"] != "stream":
        raise ValueError("drop_after applies to the 'stream' endpoint only")
    return {
        "status": None if status is None else int(status),
        "error": error,
        "made": _flag(spec, "made"),
        "reset": _flag(spec, "reset"),
        "html": _flag(spec, "html"),
        "delay": _seconds(spec, "delay") or 0.0,
        "answer_delay": _seconds(spec, "answer_delay") or 0.0,
        "retry_after": _seconds(spec, "retry_after"),
        "drop_after": None if drop_after is None else max(0, int(drop_after)),
        "service_tier": spec.get("service_tier"),
    }


def _window(spec: dict[str, Any], now: float) -> dict[str, Any]:
    count, seconds = spec.get("count"), _seconds(spec, "seconds")
    if count is not None and int(count) < 1:
        raise ValueError("count must be at least 1")
    probability = float(spec.get("probability", 1.0))
    if not 0 < probability <= 1:
        raise ValueError("probability must be in (0, 1]")
    remaining = int(count) if count is not None else (None if seconds else 1)
    until = None if seconds is None else now + seconds
    return {"remaining": remaining, "until": until, "probability": probability}


def _flag(spec: dict[str, Any], key: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise TypeError(f"{key} must be true or false")
    return value


def _seconds(spec: dict[str, Any], key: str) -> float | None:
    value = spec.get(key)
    if value is None:
        return None
    number = float(value)
    if number < 0:
        raise ValueError(f"{key} must not be negative")
    return number


class FaultBook:
    """Pending faults behind a short-held lock, with a cheap lock-free check for none."""

    def __init__(self, seed: int | None = None) -> None:
        """``seed`` makes probabilistic faults repeatable (``random_seed`` setting)."""
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> None:
        """Queue a fault behind the ones already pending."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Forget every pending fault."""
        with self._lock:
            self._faults.clear()

    def reseed(self, seed: int | None) -> None:
        """Restart the dice, so a run with the same seed hits the same calls."""
        with self._lock:
            self._random = random.Random(seed)

    def take(self, endpoint: str, now: float, service_tier: str | None = None) -> Fault | None:
        """Consume one hit of the oldest live fault matching the call, if the dice agree."""
        if not self._faults:  # racy fast path: faults are rare, retrieves are not
            return None
        with self._lock:
            self._faults = [f for f in self._faults if f.live(now)]
            for fault in self._faults:
                if self._matches(fault, endpoint, service_tier):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return replace(fault)
            return None

    def _matches(self, fault: Fault, endpoint: str, service_tier: str | None) -> bool:
        """Caller holds the lock (the random draw is not thread-safe either)."""
        if fault.endpoint != endpoint:
            return False
        if fault.service_tier is not None and fault.service_tier != service_tier:
            return False
        return fault.probability >= 1 or self._random.random() < fault.probability

    def pending(self, now: float) -> list[dict[str, Any]]:
        """Live faults as JSON, for the stats and the control API."""
        with self._lock:
            return [vars(f).copy() for f in self._faults if f.live(now)]


class DroppedConnection(ConnectionResetError):
    """Raised to cut a client's connection with no (further) answer.

    The HTTP server treats it like a client that went away: nothing more is written and the
    socket is closed, so the client sees a reset or a truncated chunked body.
    """
