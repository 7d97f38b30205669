"""Jobs as plain data: the `--json` output of the CLI and anything else that exports them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.job import Event, Job
from models.store.feedback import of as feedback_of
from models.turn import Turn


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def job_summary(job: Job) -> dict[str, Any]:
    """The fields of CONTRACT.md without the bulky ones (output, events)."""
    current = job.current_attempt
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "lane": job.lane,
        "priority": job.priority,
        "requested_by": job.requested_by,
        "team_id": job.team_id,
        "channel_id": job.channel_id,
        "thread_ts": job.thread_ts,
        "card_ts": job.card_ts,
        "input": job.input_text,
        "model": job.model,
        "options": job.options,
        "provider_response_id": current.response_id if current else None,
        "provider_status": current.provider_status if current else None,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "provider_creates": sum(a.create_calls for a in job.attempt_rows),
        "turns": job.turn_number,
        "error": job.error,
        "wait_reason": job.wait_reason,
        "usage": job.usage,
        "cost_usd": job.cost_usd,
        "service_tier": job.service_tier,
        "deadline_at": _iso(job.deadline_at),
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "purged_at": _iso(job.purged_at),
    }


def job_detail(job: Job, events: list[Event], turns: list[Turn] | None = None) -> dict[str, Any]:
    """Everything about one job, with its attempts, its turns and its event history."""
    return {
        **job_summary(job),
        "output_text": job.output_text,
        "output": job.output,
        "provider_error": job.provider_error,
        "decided_by": job.decided_by,
        "decided_at": _iso(job.decided_at),
        "decision_note": job.decision_note,
        "attempt_history": [
            {
                "number": a.number,
                "response_id": a.response_id,
                "provider_status": a.provider_status,
                "checks": a.checks,
                "provider_creates": a.create_calls,
                "usage": a.usage,
                "estimate_usd": a.estimate_usd,
                "cost_usd": a.cost_usd,
                "service_tier": a.service_tier,
                "approved_by": a.approved_by,
                "error": a.error,
                "provider_error": a.provider_error,
                "created_at": _iso(a.created_at),
                "started_at": _iso(a.started_at),
                "finished_at": _iso(a.finished_at),
            }
            for a in job.attempt_rows
        ],
        "turn_history": [_turn(t) for t in turns or []],
        "feedback": [
            {"at": _iso(f.at), "actor": f.actor, "value": f.value, "comment": f.comment}
            for f in feedback_of(events)
        ],
        "events": [
            {
                "at": _iso(e.at),
                "actor": e.actor,
                "action": e.action,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "detail": e.detail,
            }
            for e in events
        ],
    }


def _turn(turn: Turn) -> dict[str, Any]:
    """One question and its answer: who asked, which response answered, at what cost."""
    return {
        "number": turn.number,
        "actor": turn.actor,
        "input": turn.input_text,
        "previous_response_id": turn.previous_response_id,
        "response_id": turn.response_id,
        "status": turn.status,
        "output_text": turn.output_text,
        "cost_usd": turn.cost_usd,
        "created_at": _iso(turn.created_at),
        "finished_at": _iso(turn.finished_at),
    }
