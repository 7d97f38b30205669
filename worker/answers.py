"""What the provider's answer about a response means for us, in the shape we store."""

from __future__ import annotations

from collections import Counter
from typing import Any

from openai.types.responses import Response
from sqlalchemy.orm import Session

from models.kinds import KindsConfig
from models.status import PROVIDER_PENDING
from models.store.observations import Applied, Observation, apply_observation
from worker.metrics import cost_recorded

INCOMPLETE_REASONS = {
    "max_output_tokens": "the answer was cut off at the output limit",
    "content_filter": "the provider's content filter stopped the answer",
}


def apply(
    session: Session, kinds: KindsConfig, response: Response, *, webhooks: bool
) -> Applied | None:
    """Record what the provider says about a response (in the caller's transaction) and
    count the cost it recorded."""
    return apply_seen(session, kinds, observation(response), webhooks=webhooks)


def apply_seen(
    session: Session, kinds: KindsConfig, seen: Observation, *, webhooks: bool
) -> Applied | None:
    """`apply` for what Errand saw itself (a held stream closed or broken), and its cost."""
    applied = apply_observation(session, kinds, seen, webhooks=webhooks)
    if applied is not None and applied.cost_usd:
        cost_recorded(applied.kind, applied.cost_usd)
    return applied


def observation(response: Response) -> Observation:
    """The response as the store records it: its status, and for a finished one the
    output, citations, usage, tier and tool calls, and why it failed, if it did."""
    status = str(response.status)
    if status in PROVIDER_PENDING:
        return Observation(response.id, status)
    return Observation(
        response.id,
        status,
        output_text=response.output_text if status in ("completed", "incomplete") else None,
        output={
            "citations": citations(response),
            "response_id": response.id,
            "completed_at": response.completed_at,  # for the result-lag metric
        },
        usage=response.usage.model_dump(mode="json") if response.usage else None,
        error=failure_reason(response),
        provider_error=response.error.message if response.error else None,
        retryable=retryable_failure(response),
        service_tier=response.service_tier,
        tool_calls=tool_calls(response),
    )


def citations(response: Response) -> list[dict[str, Any]]:
    """URL citations in order of appearance, without repeats."""
    seen: dict[str, dict[str, Any]] = {}
    for item in response.output or []:
        for part in getattr(item, "content", None) or []:
            for note in getattr(part, "annotations", None) or []:
                if getattr(note, "type", "") == "url_citation" and note.url not in seen:
                    seen[note.url] = {"url": note.url, "title": getattr(note, "title", None)}
    return list(seen.values())


def tool_calls(response: Response) -> dict[str, int]:
    """Tool calls by tool type, from the output's `<type>_call` items (`web_search_call`
    is one web search), for the tools' per-call prices."""
    types = (str(getattr(item, "type", "")) for item in response.output or [])
    return dict(Counter(kind.removesuffix("_call") for kind in types if kind.endswith("_call")))


def failure_reason(response: Response) -> str | None:
    """A sentence for a person, for any status that is not a success; Errand's own words
    (the provider's message goes to the record, not to a channel)."""
    if response.status == "failed":
        error = response.error
        if error is None:
            return "The AI provider reported a failure without a reason."
        return f"The AI provider could not finish this job ({error.code})."
    if response.status == "incomplete":
        reason = response.incomplete_details.reason if response.incomplete_details else None
        return "incomplete: " + INCOMPLETE_REASONS.get(str(reason), f"stopped early ({reason})")
    if response.status == "cancelled":
        return "the response was cancelled at the provider"
    return None


def retryable_failure(response: Response) -> bool:
    """Provider-side failures worth a fresh attempt on their own (not bad input)."""
    error = response.error
    return (
        response.status == "failed"
        and error is not None
        and error.code
        in {
            "server_error",
            "rate_limit_exceeded",
        }
    )
