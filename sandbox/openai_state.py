"""In-memory state of the OpenAI stand-in: responses, idempotency keys, faults and stats.

One lock guards everything and is held only for dictionary work, never for I/O, content
generation or sleeping, so thousands of concurrent retrieves stay cheap.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from sandbox.openai_responses import (
    JSON,
    TERMINAL,
    ResponseRecord,
    SandboxOpenAISettings,
    derived_id,
    new_record,
)
from sandbox.openai_webhooks import Delivery, WebhookDispatcher

ENDPOINTS = ("create", "retrieve", "cancel")


@dataclass
class Fault:
    """The next ``remaining`` calls to ``endpoint`` are delayed and/or answered with ``status``.

    ``delay`` holds the call before it is served; ``answer_delay`` serves it, then holds
    the answer (the work is done upstream, the client just hears late).
    """

    endpoint: str
    status: int | None
    remaining: int
    retry_after: float | None = None
    delay: float = 0.0
    answer_delay: float = 0.0


class SandboxState:
    """Everything the HTTP layer reads or changes, behind one short-held lock."""

    def __init__(
        self, settings: SandboxOpenAISettings, clock: Callable[[], float] = time.time
    ) -> None:
        """``clock`` is injectable so unit tests can move time without sleeping."""
        self._initial = settings
        self._clock = clock
        self._lock = threading.Lock()
        self.settings = settings
        self._records: dict[str, ResponseRecord] = {}
        self._idempotency: dict[str, str] = {}
        self._faults: list[Fault] = []
        self._calls = dict.fromkeys(ENDPOINTS, 0)
        self._duplicates = 0
        self._webhooks = {"delivered": 0, "failed": 0}
        self.dispatcher = WebhookDispatcher(self._resolve_webhook, self._webhook_result)

    def now(self) -> float:
        """The stand-in's notion of the current epoch time."""
        return self._clock()

    # -- OpenAI endpoints ---------------------------------------------------------------

    def count_call(self, endpoint: str, response_id: str | None = None) -> ResponseRecord | None:
        """Count one call (faulted ones included) and return the addressed record, if any."""
        with self._lock:
            self._calls[endpoint] += 1
            record = self._records.get(response_id) if response_id else None
            if record is not None:
                record.calls[endpoint] += 1
            return record

    def create(self, body: JSON, idempotency_key: str | None) -> tuple[ResponseRecord, bool]:
        """Store a new response, or return the one a repeated idempotency key created."""
        existing = self._replay(idempotency_key)
        if existing is not None:
            return existing, True
        response_id = "resp_" + secrets.token_hex(24)
        record = new_record(response_id, body, self.settings, self.now())
        if not record.store:
            return record, False
        with self._lock:
            if idempotency_key is not None and idempotency_key in self._idempotency:
                return self._count_duplicate(self._idempotency[idempotency_key]), True
            self._records[record.id] = record
            if idempotency_key is not None:
                self._idempotency[idempotency_key] = record.id
            webhooks_on = bool(self.settings.webhook_url)
        if webhooks_on:  # spare the dispatcher thousands of no-op wake-ups in benchmarks
            self.dispatcher.schedule(record.terminal_at, record.id)
        return record, False

    def _replay(self, idempotency_key: str | None) -> ResponseRecord | None:
        if idempotency_key is None:
            return None
        with self._lock:
            response_id = self._idempotency.get(idempotency_key)
            return self._count_duplicate(response_id) if response_id else None

    def _count_duplicate(self, response_id: str) -> ResponseRecord:
        """Caller holds the lock."""
        record = self._records[response_id]
        record.calls["create"] += 1
        self._duplicates += 1
        return record

    def cancel(self, record: ResponseRecord) -> str:
        """Cancel if still running; return the status the caller must act on."""
        with self._lock:
            status = record.status_at(self.now())
            if status in ("queued", "in_progress"):
                record.cancelled_at = self.now()
                status = "cancelled"
                due = record.cancelled_at
            else:
                return status
        self.dispatcher.schedule(due, record.id)
        return status

    # -- webhooks -----------------------------------------------------------------------

    def _resolve_webhook(self, response_id: str) -> Delivery | float | None:
        """Called by the dispatcher when a response is due; marks it so it fires only once."""
        settings = self.settings
        with self._lock:
            record = self._records.get(response_id)
            if record is None or record.webhook_sent:
                return None
            now = self.now()
            status = record.status_at(now)
            if status not in TERMINAL:
                return record.terminal_at
            if not (settings.webhook_url and settings.webhook_secret):
                return None
            record.webhook_sent = True
            finished = record.finished_at(now) or now
        event_id = derived_id("evt_", response_id)
        event = {
            "id": event_id,
            "object": "event",
            "created_at": int(finished),
            "type": f"response.{status}",
            "data": {"id": response_id},
        }
        body = json.dumps(event)
        return Delivery(settings.webhook_url, settings.webhook_secret, event_id, body)

    def _webhook_result(self, delivered: bool) -> None:
        with self._lock:
            self._webhooks["delivered" if delivered else "failed"] += 1

    # -- control API --------------------------------------------------------------------

    def configure(self, patch: Mapping[str, Any]) -> SandboxOpenAISettings:
        """Replace some defaults; bad keys or values raise ``ValueError`` saying which."""
        clean = {key: _coerce(key, value) for key, value in patch.items()}
        with self._lock:
            self.settings = replace(self.settings, **clean)
            return self.settings

    def add_fault(self, fault: Fault) -> None:
        """Faults queue up per endpoint and are consumed in the order they were added."""
        with self._lock:
            self._faults.append(fault)

    def take_fault(self, endpoint: str) -> Fault | None:
        """Consume one use of the oldest fault for ``endpoint``."""
        if not self._faults:  # racy fast path: faults are rare, retrieves are not
            return None
        with self._lock:
            for fault in self._faults:
                if fault.endpoint == endpoint and fault.remaining > 0:
                    fault.remaining -= 1
                    self._faults = [f for f in self._faults if f.remaining > 0]
                    return replace(fault)
            return None

    def reset(self) -> None:
        """Back to a fresh server: no responses, faults or counts, initial settings."""
        with self._lock:
            self.settings = self._initial
            self._records.clear()
            self._idempotency.clear()
            self._faults.clear()
            self._calls = dict.fromkeys(ENDPOINTS, 0)
            self._duplicates = 0
            self._webhooks = {"delivered": 0, "failed": 0}
        self.dispatcher.clear()

    def stats(self) -> JSON:
        """Totals per endpoint and per response, for assertions and benchmarks."""
        with self._lock:
            now = self.now()
            responses = {rid: _record_stats(r, now) for rid, r in self._records.items()}
            return {
                "calls": dict(self._calls),
                "responses": responses,
                "duplicate_creates": self._duplicates,
                "responses_created": len(self._records),
                "webhooks": dict(self._webhooks),
                "faults_pending": [vars(f).copy() for f in self._faults],
            }

    def list_responses(self, metadata: Mapping[str, str], status: str | None = None) -> list[JSON]:
        """Summaries of stored responses whose metadata contains all of ``metadata``."""
        with self._lock:
            now = self.now()
            records = list(self._records.values())
        found = [
            _summary(r, now)
            for r in records
            if all(r.echoed.get("metadata", {}).get(k) == v for k, v in metadata.items())
        ]
        return [s for s in found if status is None or s["status"] == status]

    def close(self) -> None:
        """Stop the webhook thread."""
        self.dispatcher.close()


_FLOAT_SETTINGS = frozenset({"duration_min", "duration_max", "queue_seconds"})
_OPTIONAL_SETTINGS = frozenset({"webhook_url", "webhook_secret", "default_chars"})


def _coerce(key: str, value: Any) -> Any:
    """Validate one config value against ``SandboxOpenAISettings``."""
    if key not in {f.name for f in fields(SandboxOpenAISettings)}:
        raise ValueError(f"unknown setting {key!r}")
    if value is None and key in _OPTIONAL_SETTINGS:
        return None
    try:
        if key in _FLOAT_SETTINGS:
            number = float(value)
            if number < 0:
                raise ValueError(key)
            return number
        return int(value) if key == "default_chars" else str(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid value for {key!r}: {value!r}") from None


def _record_stats(record: ResponseRecord, now: float) -> JSON:
    return {
        **record.calls,
        "status": record.status_at(now),
        "completed_at": record.finished_at(now),
        "metadata": record.echoed.get("metadata", {}),
    }


def _summary(record: ResponseRecord, now: float) -> JSON:
    scenario = record.scenario
    return {
        "id": record.id,
        "status": record.status_at(now),
        "model": record.model,
        "metadata": record.echoed.get("metadata", {}),
        "created_at": record.created_at,
        "completed_at": record.finished_at(now),
        "queue_seconds": record.queue_s,
        "duration_seconds": record.duration_s,
        "outcome": scenario.outcome,
        "chars": len(record.answer.text),
        "background": record.background,
        "calls": dict(record.calls),
        "input": record.input,
        "instructions": record.echoed.get("instructions"),
        "tools": record.echoed.get("tools", []),
    }
