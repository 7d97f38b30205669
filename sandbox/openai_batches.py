"""Batches: a lazy state machine over time, like responses, and their ``Batch`` JSON.

``validating`` for ``batch_validate_seconds``; then ``failed`` if the input file was invalid,
else ``in_progress`` while rows complete at ``batch_rows_per_second`` (``request_counts``
grow), ``finalizing`` for ``batch_finalize_seconds``, and ``completed``. A cancel makes it
``cancelling`` for ``batch_cancel_seconds``, then ``cancelled`` with the rows done so far; a
batch still running ``batch_expire_seconds`` after creation (24 h by default) is ``expired``.
Timestamps appear once reached; the spec has no nulls for them.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from sandbox.openai_errors import ApiError
from sandbox.openai_responses import JSON, SandboxOpenAISettings

TERMINAL = frozenset({"failed", "completed", "expired", "cancelled"})


@dataclass(frozen=True)
class BatchRow:
    """One input line: its ``custom_id``, request body, and the error it will get, if any."""

    custom_id: str
    body: JSON
    failure: ApiError | None = None


@dataclass(slots=True)
class BatchRecord:
    """Everything needed to render a batch at any time; changed only by cancel and outputs."""

    id: str
    created_at: float
    request: JSON
    rows: tuple[BatchRow, ...]
    errors: tuple[JSON, ...]
    settings: SandboxOpenAISettings
    model: str | None = None
    cancel_requested_at: float | None = None
    webhook_sent: bool = False
    files: dict[str, str] = field(default_factory=dict)
    _failed_before: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        """Failing rows among the first i, so counts are O(1) at any moment."""
        running, prefix = 0, [0]
        for row in self.rows:
            running += row.failure is not None
            prefix.append(running)
        self._failed_before = tuple(prefix)

    @property
    def in_progress_at(self) -> float:
        """When validation ends (and rows start, for a valid input)."""
        return self.created_at + self.settings.batch_validate_seconds

    @property
    def rows_end(self) -> float:
        """When the last row would be done."""
        return self.in_progress_at + len(self.rows) / self.settings.batch_rows_per_second

    @property
    def completed_at(self) -> float:
        """When an uninterrupted batch completes."""
        return self.rows_end + self.settings.batch_finalize_seconds

    @property
    def expires_at(self) -> float:
        """The end of the completion window."""
        return self.created_at + self.settings.batch_expire_seconds

    @property
    def expires(self) -> bool:
        """Whether the window closes before the batch can complete."""
        return self.expires_at < self.completed_at

    def status_at(self, now: float) -> str:
        """The lazy state machine: float comparisons only."""
        if self.errors:
            return "validating" if now < self.in_progress_at else "failed"
        if self.cancel_requested_at is not None:
            done = self.cancel_requested_at + self.settings.batch_cancel_seconds
            return "cancelling" if now < done else "cancelled"
        if now < self.in_progress_at:
            return "validating"
        if self.expires and now >= self.expires_at:
            return "expired"
        if now < self.rows_end:
            return "in_progress"
        return "finalizing" if now < self.completed_at else "completed"

    def terminal_at(self) -> float:
        """When the batch reaches (or reached) its terminal status, given cancels so far."""
        if self.errors:
            return self.in_progress_at
        if self.cancel_requested_at is not None:
            return self.cancel_requested_at + self.settings.batch_cancel_seconds
        return self.expires_at if self.expires else self.completed_at

    def rows_done(self, now: float) -> int:
        """Rows finished by ``now``; none after a cancel or the window closing."""
        if self.errors:
            return 0
        stop = min(now, self.expires_at, self.cancel_requested_at or math.inf)
        done = math.floor((stop - self.in_progress_at) * self.settings.batch_rows_per_second + 1e-9)
        return max(0, min(len(self.rows), done))

    def row_done_at(self, index: int) -> float:
        """When row ``index`` finishes (if it runs at all)."""
        return self.in_progress_at + (index + 1) / self.settings.batch_rows_per_second

    def failed_among(self, done: int) -> int:
        """Failing rows among the first ``done``."""
        return self._failed_before[done]


def render_batch(batch: BatchRecord, now: float) -> JSON:
    """The ``Batch`` object at ``now``."""
    status = batch.status_at(now)
    done = batch.rows_done(now)
    failed = batch.failed_among(done)
    counted = _started(batch, now)
    body: JSON = {
        "id": batch.id,
        "object": "batch",
        **batch.request,
        "status": status,
        "created_at": int(batch.created_at),
        "expires_at": int(batch.expires_at),
        **_stamps(batch, status, now),
        "request_counts": {
            "total": len(batch.rows) if counted else 0,
            "completed": done - failed,
            "failed": failed,
        },
        **batch.files,
    }
    if batch.model is not None:
        body["model"] = batch.model
    if batch.errors:
        body["errors"] = {"object": "list", "data": list(batch.errors)}
    return body


def _stamps(batch: BatchRecord, status: str, now: float) -> dict[str, int]:
    """The ``*_at`` fields reached by ``now`` on the path this batch took."""
    stamps: dict[str, float] = {}
    if status == "failed":
        stamps["failed_at"] = batch.in_progress_at
    elif _started(batch, now):
        stamps["in_progress_at"] = batch.in_progress_at
    if batch.cancel_requested_at is not None:
        stamps["cancelling_at"] = batch.cancel_requested_at
        if status == "cancelled":
            stamps["cancelled_at"] = batch.terminal_at()
    elif status == "expired":
        stamps["expired_at"] = batch.expires_at
    elif status in ("finalizing", "completed"):
        stamps["finalizing_at"] = batch.rows_end
        if status == "completed":
            stamps["completed_at"] = batch.completed_at
    return {key: int(value) for key, value in stamps.items()}


def _started(batch: BatchRecord, now: float) -> bool:
    """Whether validation passed and rows began (a cancel during validation stops that)."""
    if batch.errors or now < batch.in_progress_at:
        return False
    cancelled = batch.cancel_requested_at
    return cancelled is None or cancelled >= batch.in_progress_at


class BatchStore:
    """Batches by id, behind a short-held lock."""

    def __init__(self) -> None:
        """An empty store."""
        self._lock = threading.Lock()
        self._batches: dict[str, BatchRecord] = {}

    def add(self, batch: BatchRecord) -> None:
        """Store a new batch."""
        with self._lock:
            self._batches[batch.id] = batch

    def get(self, batch_id: str) -> BatchRecord | None:
        """The batch, if known."""
        with self._lock:
            return self._batches.get(batch_id)

    def newest(self, after: str | None, limit: int) -> tuple[list[BatchRecord], bool]:
        """Up to ``limit`` batches, newest first, after the one named ``after`` (the list's
        cursor); and whether more follow."""
        with self._lock:
            ordered = sorted(
                self._batches.values(), key=lambda b: (b.created_at, b.id), reverse=True
            )
        start = next((i + 1 for i, b in enumerate(ordered) if b.id == after), 0) if after else 0
        page = ordered[start : start + limit]
        return page, start + limit < len(ordered)

    def cancel(self, batch: BatchRecord, now: float) -> str:
        """Start cancelling if still validating or running; return the status to answer."""
        with self._lock:
            status = batch.status_at(now)
            if status in ("validating", "in_progress"):
                batch.cancel_requested_at = now
                return "cancelling"
            return status

    def mark_webhook(self, batch_id: str, now: float) -> tuple[str, float] | float | None:
        """For the dispatcher: the event to send once (and when it happened), a later due
        time, or ``None``."""
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None or batch.webhook_sent:
                return None
            status = batch.status_at(now)
            if status not in TERMINAL:
                return batch.terminal_at()
            batch.webhook_sent = True
            return f"batch.{status}", batch.terminal_at()

    def attach_files(self, batch: BatchRecord, files: dict[str, str]) -> None:
        """Record the output and error files once written (first writer wins)."""
        with self._lock:
            if not batch.files:
                batch.files = dict(files)

    def statuses(self, now: float) -> dict[str, int]:
        """How many batches are in each status, for the stats."""
        with self._lock:
            batches = list(self._batches.values())
        counts: dict[str, int] = {}
        for batch in batches:
            status = batch.status_at(now)
            counts[status] = counts.get(status, 0) + 1
        return counts

    def clear(self) -> None:
        """Forget every batch (sandbox reset)."""
        with self._lock:
            self._batches.clear()
