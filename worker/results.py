"""What a finished provider response gives us, in the shape we store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openai.types.responses import Response

INCOMPLETE_REASONS = {
    "max_output_tokens": "the answer was cut off at the output limit",
    "content_filter": "the provider's content filter stopped the answer",
}


@dataclass(frozen=True)
class Result:
    """Output, citations, usage and the reason it failed, if it did."""

    status: str
    output_text: str | None
    output: dict[str, Any]
    usage: dict[str, Any] | None
    error: str | None


def read_result(response: Response) -> Result:
    """Pull the stored fields out of a terminal response."""
    text = response.output_text if response.status == "completed" else None
    usage = response.usage.model_dump(mode="json") if response.usage else None
    return Result(
        status=str(response.status),
        output_text=text,
        output={
            "citations": citations(response),
            "response_id": response.id,
            "completed_at": response.completed_at,  # for the result-lag metric
        },
        usage=usage,
        error=failure_reason(response),
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


def failure_reason(response: Response) -> str | None:
    """A sentence for a person, for any status that is not a success."""
    if response.status == "failed":
        error = response.error
        if error is None:
            return "the provider reported a failure without a reason"
        return f"the provider failed ({error.code}): {error.message}"
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
