"""In-memory state of the OpenAI stand-in: responses, files, batches, faults, limits, log.

Each store has its own lock, held only for dictionary work, never for I/O, content
generation or sleeping, so thousands of concurrent retrieves stay cheap.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.openai_accounting import ledger, record_stats, summary
from sandbox.openai_batches import BatchStore
from sandbox.openai_faults import ENDPOINTS, Fault, FaultBook
from sandbox.openai_files import FileStore
from sandbox.openai_ratelimit import RateLimiter
from sandbox.openai_requestlog import RequestLog
from sandbox.openai_responses import (
    JSON,
    TERMINAL,
    ResponseRecord,
    SandboxOpenAISettings,
    new_record,
)
from sandbox.openai_settings import patched
from sandbox.openai_webhooks import Delivery, WebhookDispatcher, event_delivery

__all__ = ["ENDPOINTS", "Fault", "SandboxState"]


class SandboxState:
    """Everything the HTTP layer reads or changes, each part behind its own short lock."""

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
        self._calls = dict.fromkeys(ENDPOINTS, 0)
        self._duplicates = 0
        self._webhooks = {"delivered": 0, "failed": 0}
        self.faults = FaultBook(settings.random_seed)
        self.limiter = RateLimiter()
        self.log = RequestLog(settings.request_log_limit)
        self.files = FileStore()
        self.batches = BatchStore()
        self.dispatcher = WebhookDispatcher(self._resolve_webhook, self._webhook_result)

    def now(self) -> float:
        """The stand-in's notion of the current epoch time."""
        return self._clock()

    # -- responses ----------------------------------------------------------------------

    def count_call(self, endpoint: str, response_id: str | None = None) -> None:
        """Count one call (faulted ones included), and on the addressed response if any."""
        with self._lock:
            self._calls[endpoint] += 1
            record = self._records.get(response_id) if response_id else None
            if record is not None and endpoint in record.calls:
                record.calls[endpoint] += 1

    def lookup(self, response_id: str) -> ResponseRecord | None:
        """A response the API would still answer for: stored, and not past its retention."""
        with self._lock:
            record = self._records.get(response_id)
        if record is None or not record.store or self.now() >= record.expires_at:
            return None
        return record

    def create(self, body: JSON, idempotency_key: str | None) -> tuple[ResponseRecord, bool]:
        """Make a new response, or (only if configured to) replay a repeated idempotency key.

        Every response made is kept for the stats, ``store: false`` ones too (they bill), but
        only stored ones can be retrieved.
        """
        key = idempotency_key if self.settings.honour_idempotency_key else None
        existing = self._replay(key)
        if existing is not None:
            return existing, True
        record = new_record("resp_" + secrets.token_hex(24), body, self.settings, self.now())
        with self._lock:
            if key is not None and key in self._idempotency:
                return self._count_duplicate(self._idempotency[key]), True
            self._records[record.id] = record
            if key is not None and record.store:
                self._idempotency[key] = record.id
            webhooks_on = bool(self.settings.webhook_url) and record.background
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
            now = self.now()
            status = record.status_at(now)
            if status not in ("queued", "in_progress"):
                return status
            record.cancelled_at = now
            record.cancelled.set()
        if record.background:
            self.dispatcher.schedule(now, record.id)
        return "cancelled"

    def mark_unheard(self, response_id: str) -> None:
        """The create's answer never reached the client (error, reset, or dropped stream)."""
        with self._lock:
            record = self._records.get(response_id)
            if record is not None:
                record.heard = False

    def note_seen(self, response_id: str) -> None:
        """A retrieve (or stream) of the response was answered."""
        with self._lock:
            record = self._records.get(response_id)
            if record is not None:
                record.seen += 1

    # -- webhooks -----------------------------------------------------------------------

    def _resolve_webhook(self, object_id: str) -> Delivery | float | None:
        """Called by the dispatcher when a response or batch is due; each fires once."""
        settings = self.settings
        if object_id.startswith("batch_"):
            resolved = self.batches.mark_webhook(object_id, self.now())
        else:
            resolved = self._response_event(object_id)
        if not isinstance(resolved, tuple):
            return resolved
        event, finished = resolved
        if not (settings.webhook_url and settings.webhook_secret):
            return None
        return event_delivery(
            settings.webhook_url, settings.webhook_secret, event, object_id, finished
        )

    def _response_event(self, response_id: str) -> tuple[str, float] | float | None:
        with self._lock:
            record = self._records.get(response_id)
            if record is None or record.webhook_sent:
                return None
            now = self.now()
            status = record.status_at(now)
            if status not in TERMINAL:
                return record.terminal_at
            record.webhook_sent = True
            return f"response.{status}", record.finished_at(now) or now

    def _webhook_result(self, delivered: bool) -> None:
        with self._lock:
            self._webhooks["delivered" if delivered else "failed"] += 1

    # -- control API --------------------------------------------------------------------

    def configure(self, patch: Mapping[str, Any]) -> SandboxOpenAISettings:
        """Replace some defaults; bad keys or values raise ``ValueError`` saying which."""
        with self._lock:
            self.settings = settings = patched(self.settings, dict(patch))
        self.log.resize(settings.request_log_limit)
        if "random_seed" in patch:
            self.faults.reseed(settings.random_seed)
        return settings

    def add_fault(self, fault: Fault) -> None:
        """Faults queue up per endpoint and are consumed in the order they were added."""
        self.faults.add(fault)

    def reset(self) -> None:
        """Back to a fresh server: no responses, files, batches, faults, counts or log."""
        with self._lock:
            self.settings = self._initial
            self._records.clear()
            self._idempotency.clear()
            self._calls = dict.fromkeys(ENDPOINTS, 0)
            self._duplicates = 0
            self._webhooks = {"delivered": 0, "failed": 0}
        self.faults.clear()
        self.faults.reseed(self._initial.random_seed)
        self.limiter.reset()
        self.log.clear()
        self.log.resize(self._initial.request_log_limit)
        self.files.clear()
        self.batches.clear()
        self.dispatcher.clear()

    def stats(self) -> JSON:
        """Totals per endpoint, per response and per job, for assertions and benchmarks."""
        with self._lock:
            now = self.now()
            records = list(self._records.values())
            calls, duplicates, webhooks = dict(self._calls), self._duplicates, dict(self._webhooks)
        return {
            "calls": calls,
            "responses": {r.id: record_stats(r, now) for r in records},
            "duplicate_creates": duplicates,
            "responses_created": len(records),
            **ledger(records),
            "rate_limited": self.limiter.refused,
            "webhooks": webhooks,
            "faults_pending": self.faults.pending(now),
            "files": len(self.files),
            "batches": self.batches.statuses(now),
        }

    def list_responses(self, metadata: Mapping[str, str], status: str | None = None) -> list[JSON]:
        """Summaries of the responses made whose metadata contains all of ``metadata``."""
        with self._lock:
            now = self.now()
            records = list(self._records.values())
        found = [
            summary(r, now)
            for r in records
            if all(r.echoed.get("metadata", {}).get(k) == v for k, v in metadata.items())
        ]
        return [s for s in found if status is None or s["status"] == status]

    def close(self) -> None:
        """Stop the webhook thread."""
        self.dispatcher.close()
