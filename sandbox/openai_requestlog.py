"""The request log: what every API call asked for, as the stand-in received it.

Tests assert on what the client sent rather than on what it meant to send ("no create carried
background=true", "every create carried an Idempotency-Key"). Body fields are logged raw:
``null`` when absent, so ``store: null`` means the API default (stored), not ``false``.
Bounded by the ``request_log_limit`` setting (about 1 kB an entry); the oldest go first.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

JSON = dict[str, Any]
BODY_FIELDS = (
    "model",
    "background",
    "store",
    "stream",
    "service_tier",
    "reasoning",
    "previous_response_id",
    "metadata",
    "max_output_tokens",
    "tools",
    "include",
)


def entry(
    method: str,
    path: str,
    endpoint: str,
    body: Any,
    headers: Iterable[str],
    idempotency_key: str | None,
    query: Mapping[str, str],
) -> JSON:
    """A new log entry; ``status``/``outcome`` are filled in once the answer is known."""
    fields = body if isinstance(body, dict) else {}
    return {
        "seq": 0,
        "at": 0.0,
        "method": method,
        "path": path,
        "endpoint": endpoint,
        "query": dict(query),
        **{name: fields.get(name) for name in BODY_FIELDS},
        "headers": sorted(sys.intern(name.lower()) for name in headers),
        "idempotency_key": idempotency_key,
        "response_id": None,
        "status": None,
        "outcome": None,
    }


class RequestLog:
    """A bounded, thread-safe list of entries with filtering for the control API."""

    def __init__(self, limit: int) -> None:
        """Keep at most ``limit`` entries."""
        self._lock = threading.Lock()
        self._entries: deque[JSON] = deque(maxlen=limit)
        self._seq = itertools.count(1)

    def add(self, item: JSON, now: float) -> None:
        """Append an entry (stamped with a sequence number and the time)."""
        with self._lock:
            item["seq"], item["at"] = next(self._seq), now
            self._entries.append(item)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def resize(self, limit: int) -> None:
        """Keep at most ``limit`` entries from now on (the newest, if there are more)."""
        with self._lock:
            if self._entries.maxlen != limit:
                self._entries = deque(self._entries, maxlen=limit)

    def select(self, filters: Mapping[str, str]) -> list[JSON]:
        """Entries matching every filter (see ``_matches``), oldest first."""
        wanted = dict(filters)
        limit = int(wanted.pop("limit", 0) or 0)
        since = int(wanted.pop("since", 0) or 0)
        with self._lock:
            items = [dict(e) for e in self._entries if e["seq"] > since]
        found = [e for e in items if all(_matches(e, k, v) for k, v in wanted.items())]
        return found[-limit:] if limit else found


def _matches(item: JSON, key: str, raw: str) -> bool:
    """``header=NAME`` (present), ``metadata.K=V``, or any field equal to a JSON literal."""
    if key == "header":
        return raw.lower() in item["headers"]
    if key.startswith("metadata."):
        metadata = item.get("metadata")
        return isinstance(metadata, dict) and bool(metadata.get(key[9:]) == raw)
    return bool(item.get(key) == _literal(raw))


def _literal(raw: str) -> Any:
    """``true`` -> True, ``null`` -> None, ``200`` -> 200; anything else stays a string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw
