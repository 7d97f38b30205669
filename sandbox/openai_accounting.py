"""What the client did with the responses it caused: made, cancelled, heard, seen, orphaned.

An *orphan* is a response that was made, not cancelled, and whose result the client never
had: no retrieve of it was answered, and it was not a foreground create answered in full.
The usual cause is a create the client gave up on (a timeout, a reset, or an error answer to
a create that was made anyway) and then repeated: the first one runs and bills unseen. Tests
assert "0 orphans" overall or per job (``metadata.job_id``); it is a snapshot, so they assert
once the client has settled.
"""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.openai_render import has_message
from sandbox.openai_responses import JSON, ResponseRecord


def is_orphan(record: ResponseRecord) -> bool:
    """Made, never cancelled, and its result never reached the client."""
    if record.cancelled_at is not None or record.seen > 0:
        return False
    return not (record.heard and not record.background)


def ledger(records: Iterable[ResponseRecord]) -> JSON:
    """Totals overall and per job: made, cancelled, unheard, orphans (ids); jobs list theirs."""
    overall = _blank()
    jobs: dict[str, JSON] = {}
    for record in records:
        _count(overall, record)
        if record.job_id is not None:
            job = jobs.setdefault(record.job_id, {**_blank(), "responses": []})
            _count(job, record)
            job["responses"].append(record.id)
    return {**overall, "jobs": jobs}


def _blank() -> JSON:
    return {"made": 0, "cancelled": 0, "unheard": 0, "orphans": []}


def _count(totals: JSON, record: ResponseRecord) -> None:
    totals["made"] += 1
    totals["cancelled"] += record.cancelled_at is not None
    totals["unheard"] += not record.heard
    if is_orphan(record):
        totals["orphans"].append(record.id)


def record_stats(record: ResponseRecord, now: float) -> JSON:
    """One response's counters, for ``/_sandbox/stats``."""
    return {
        **record.calls,
        "status": record.status_at(now),
        "completed_at": record.finished_at(now),
        "metadata": record.echoed.get("metadata", {}),
        "background": record.background,
        "store": record.store,
        "heard": record.heard,
        "seen": record.seen,
        "orphan": is_orphan(record),
    }


def summary(record: ResponseRecord, now: float) -> JSON:
    """One response as ``/_sandbox/responses`` lists it."""
    scenario = record.scenario
    return {
        "id": record.id,
        "status": record.status_at(now),
        "model": record.model,
        "metadata": record.echoed.get("metadata", {}),
        "created_at": record.created_at,
        "completed_at": record.finished_at(now),
        "queue_seconds": record.queue_s,
        "first_token_at": _first_token_at(record),
        "duration_seconds": record.duration_s,
        "outcome": scenario.outcome,
        "chars": len(record.answer.text),
        "background": record.background,
        "store": record.store,
        "stream": record.streamed,
        "service_tier": record.echoed.get("service_tier"),
        "previous_response_id": record.echoed.get("previous_response_id"),
        "web_search_calls": record.web_searches,
        "usage": {"output_tokens": record.output_tokens, "input_tokens": record.input_tokens},
        "calls": dict(record.calls),
        "heard": record.heard,
        "seen": record.seen,
        "orphan": is_orphan(record),
        "input": record.input,
        "instructions": record.echoed.get("instructions"),
        "tools": record.echoed.get("tools", []),
    }


def _first_token_at(record: ResponseRecord) -> float | None:
    """When the first text delta happens (whether or not anyone reads the stream then)."""
    return record.created_at + record.first_token_s if has_message(record) else None
