"""The checks upstream makes on a create body, with upstream's wording.

Used for ``POST /v1/responses`` and for every line of a batch, so a client bug surfaces in
tests rather than in production. Checks that need stored state (``previous_response_id``)
live with the route.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sandbox.openai_errors import ApiError, invalid_request

SERVICE_TIERS = ("auto", "default", "flex", "scale", "priority", "fast")
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
_MIN_OUTPUT_TOKENS = 16


def validate_create(body: dict[str, Any]) -> ApiError | None:
    """The first problem with a create body, or ``None``."""
    for check in (_model, _background, _tier, _effort, _max_output_tokens, _stream):
        problem = check(body)
        if problem is not None:
            return problem
    return validate_metadata(body.get("metadata"))


def _model(body: dict[str, Any]) -> ApiError | None:
    if isinstance(body.get("model"), str) and body["model"]:
        return None
    return invalid_request(
        "Missing required parameter: 'model'.", "model", "missing_required_parameter"
    )


def _background(body: dict[str, Any]) -> ApiError | None:
    if body.get("background") and body.get("store") is False:
        return invalid_request(
            "Background mode requires store=true; got store=false.", "background"
        )
    return None


def _tier(body: dict[str, Any]) -> ApiError | None:
    return _one_of(body.get("service_tier"), SERVICE_TIERS, "service_tier")


def _effort(body: dict[str, Any]) -> ApiError | None:
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else reasoning
    return _one_of(effort, EFFORTS, "reasoning.effort")


def _one_of(value: Any, supported: Sequence[str], param: str) -> ApiError | None:
    """The API's answer to a value outside an enum (None: the parameter was left out)."""
    if value is None or value in supported:
        return None
    listed = ", ".join(f"'{v}'" for v in supported[:-1])
    return invalid_request(
        f"Invalid value: '{value}'. Supported values are: {listed}, and '{supported[-1]}'.",
        param,
        "invalid_value",
    )


def _max_output_tokens(body: dict[str, Any]) -> ApiError | None:
    value = body.get("max_output_tokens")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        return invalid_request(
            "Invalid type for 'max_output_tokens': expected an integer, but got"
            f" {type(value).__name__} instead.",
            "max_output_tokens",
            "invalid_type",
        )
    if value < _MIN_OUTPUT_TOKENS:
        return invalid_request(
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >="
            f" {_MIN_OUTPUT_TOKENS}, but got {value} instead.",
            "max_output_tokens",
            "integer_below_min_value",
        )
    return None


def _stream(body: dict[str, Any]) -> ApiError | None:
    value = body.get("stream")
    if value is None or isinstance(value, bool):
        return None
    return invalid_request(
        f"Invalid type for 'stream': expected a boolean, but got {type(value).__name__} instead.",
        "stream",
        "invalid_type",
    )


def validate_metadata(metadata: Any) -> ApiError | None:
    """At most 16 string values, keys up to 64 characters and values up to 512."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or len(metadata) > 16:
        return invalid_request(
            "Invalid 'metadata': expected an object of at most 16 keys.", "metadata", "invalid_type"
        )
    for key, value in metadata.items():
        if not isinstance(value, str) or len(value) > 512 or len(key) > 64:
            return invalid_request(
                f"Invalid value for 'metadata.{key}': expected a string of at most 512"
                " characters under a key of at most 64.",
                f"metadata.{key}",
                "invalid_type",
            )
    return None
