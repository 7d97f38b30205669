"""The OpenAI Responses endpoints of the stand-in (create, retrieve, cancel).

Handlers validate what upstream validates (so client bugs surface here rather than in
production), consume injected faults first, and delegate state to ``SandboxState``.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, request

from sandbox.openai_http import apply_fault, error, json_response, state
from sandbox.openai_responses import ResponseRecord, render
from sandbox.openai_stream import paced_stream

responses_api = Blueprint("openai_responses", __name__, url_prefix="/v1")

_CANCEL_REFUSALS = {
    "completed": "Cannot cancel a completed response.",
    "failed": "Cannot cancel a failed response.",
    "incomplete": "Cannot cancel an incomplete response.",
}


@responses_api.post("/responses")
def create_response() -> Response:
    """``POST /v1/responses``."""
    state().count_call("create")
    faulted = apply_fault("create")
    if faulted is not None:
        return faulted
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "We could not parse the JSON body of your request.")
    problem = _validate_create(body)
    if problem is not None:
        return problem
    record, duplicate = state().create(body, request.headers.get("Idempotency-Key"))
    if body.get("stream"):
        return _sse(record, None)
    if record.background and not duplicate:
        return json_response(render(record, "queued"))
    if not record.background:
        _wait_for_terminal(record)
    return json_response(render(record, record.status_at(state().now())))


def _validate_create(body: dict[str, Any]) -> Response | None:
    """The checks upstream makes that a client bug could trip over."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return error(
            400,
            "Missing required parameter: 'model'.",
            param="model",
            code="missing_required_parameter",
        )
    if body.get("background") and body.get("store") is False:
        return error(
            400, "Background mode requires store=true; got store=false.", param="background"
        )
    return _validate_metadata(body.get("metadata"))


def _validate_metadata(metadata: Any) -> Response | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or len(metadata) > 16:
        return error(
            400,
            "Invalid 'metadata': expected an object of at most 16 keys.",
            param="metadata",
            code="invalid_type",
        )
    for key, value in metadata.items():
        if not isinstance(value, str) or len(value) > 512 or len(key) > 64:
            return error(
                400,
                f"Invalid value for 'metadata.{key}': expected a string of at most 512"
                " characters under a key of at most 64.",
                param=f"metadata.{key}",
                code="invalid_type",
            )
    return None


def _wait_for_terminal(record: ResponseRecord) -> None:
    """Foreground (non-background) requests block until the answer is ready, as upstream."""
    remaining = record.terminal_at - state().now()
    if remaining > 0:
        time.sleep(remaining)


@responses_api.get("/responses/<response_id>")
def retrieve_response(response_id: str) -> Response:
    """``GET /v1/responses/{id}``, optionally resuming the event stream."""
    record = state().count_call("retrieve", response_id)
    faulted = apply_fault("retrieve")
    if faulted is not None:
        return faulted
    if record is None:
        return _not_found(response_id)
    if request.args.get("stream", "").lower() in ("true", "1"):
        after = request.args.get("starting_after")
        if after is not None and not after.lstrip("-").isdigit():
            return error(
                400, "Invalid 'starting_after': expected an integer.", param="starting_after"
            )
        return _sse(record, None if after is None else int(after))
    return json_response(render(record, record.status_at(state().now())))


@responses_api.post("/responses/<response_id>/cancel")
def cancel_response(response_id: str) -> Response:
    """``POST /v1/responses/{id}/cancel``."""
    record = state().count_call("cancel", response_id)
    faulted = apply_fault("cancel")
    if faulted is not None:
        return faulted
    if record is None:
        return _not_found(response_id)
    if not record.background:
        return error(400, "Only responses created with background=true can be cancelled.")
    status = state().cancel(record)
    if status in _CANCEL_REFUSALS:
        return error(400, _CANCEL_REFUSALS[status])
    return json_response(render(record, status))


def _not_found(response_id: str) -> Response:
    return error(404, f"Response with id '{response_id}' not found.")


def _sse(record: ResponseRecord, starting_after: int | None) -> Response:
    events = paced_stream(record, starting_after, state().now)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(events, mimetype="text/event-stream", headers=headers)
