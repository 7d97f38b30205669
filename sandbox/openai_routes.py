"""The OpenAI Responses endpoints of the stand-in (create, retrieve, cancel).

Handlers validate what upstream validates (so client bugs surface here rather than in
production) and delegate state to ``SandboxState``; logging, keys, rate limits and injected
faults happen around them (``sandbox.openai_http``).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, g, request

from sandbox.openai_errors import ApiError, invalid_request, not_found
from sandbox.openai_http import (
    api_error,
    client_gone,
    fault_answer,
    json_response,
    note_created,
    state,
)
from sandbox.openai_render import render
from sandbox.openai_responses import ResponseRecord
from sandbox.openai_stream import paced_stream
from sandbox.openai_validate import validate_create

responses_api = Blueprint("openai_responses", __name__, url_prefix="/v1")

_CANCEL_REFUSALS = {
    "completed": "Cannot cancel a completed response.",
    "failed": "Cannot cancel a failed response.",
    "incomplete": "Cannot cancel an incomplete response.",
}
_WAIT_POLL_SECONDS = 0.25


@responses_api.post("/responses")
def create_response() -> Response:
    """``POST /v1/responses``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api_error(invalid_request("We could not parse the JSON body of your request."))
    problem = validate_create(body) or _previous_missing(body.get("previous_response_id"))
    if problem is not None:
        return api_error(problem)
    record, duplicate = state().create(body, request.headers.get("Idempotency-Key"))
    note_created(record.id)
    if body.get("stream"):
        return _sse(record, None, creating=True)
    if record.background and not duplicate:
        return json_response(render(record, "queued"))
    if not record.background:
        _wait_for_terminal(record)
    return json_response(render(record, record.status_at(state().now())))


def _previous_missing(previous: Any) -> ApiError | None:
    """A create may only continue a response the API still stores."""
    if previous is None or (isinstance(previous, str) and state().lookup(previous)):
        return None
    return invalid_request(
        f"Previous response with id '{previous}' not found.",
        "previous_response_id",
        "previous_response_not_found",
    )


def _wait_for_terminal(record: ResponseRecord) -> None:
    """Foreground requests block until the answer is ready; hanging up cancels them."""
    while (remaining := record.terminal_at - state().now()) > 0:
        if client_gone():
            state().cancel(record)
            return
        time.sleep(min(remaining, _WAIT_POLL_SECONDS))


@responses_api.get("/responses/<response_id>")
def retrieve_response(response_id: str) -> Response:
    """``GET /v1/responses/{id}``, optionally resuming the event stream."""
    record = state().lookup(response_id)
    if record is None:
        return _not_found(response_id)
    if request.args.get("stream", "").lower() not in ("true", "1"):
        return json_response(render(record, record.status_at(state().now())))
    after = request.args.get("starting_after")
    if after is not None and not after.lstrip("-").isdigit():
        return api_error(
            invalid_request("Invalid 'starting_after': expected an integer.", "starting_after")
        )
    problem = _unstreamable(record)
    return api_error(problem) if problem else _sse(record, None if after is None else int(after))


def _unstreamable(record: ResponseRecord) -> ApiError | None:
    """Only background responses created with stream=true can be streamed, for a while."""
    if not (record.background and record.streamed):
        return invalid_request(
            "This response cannot be streamed because it was not created with background=true"
            " and stream=true.",
            "stream",
        )
    window = state().settings.stream_resume_window
    if state().now() - record.created_at > window:
        return invalid_request(
            f"Response '{record.id}' can no longer be streamed: its events are kept for"
            f" {window:g} seconds after creation. Retrieve it without stream=true instead.",
            "stream",
        )
    return None


@responses_api.post("/responses/<response_id>/cancel")
def cancel_response(response_id: str) -> Response:
    """``POST /v1/responses/{id}/cancel``."""
    record = state().lookup(response_id)
    if record is None:
        return _not_found(response_id)
    if not record.background:
        return api_error(
            invalid_request("Only responses created with background=true can be cancelled.")
        )
    status = state().cancel(record)
    if status in _CANCEL_REFUSALS:
        return api_error(invalid_request(_CANCEL_REFUSALS[status]))
    return json_response(render(record, status))


def _not_found(response_id: str) -> Response:
    return api_error(not_found(f"Response with id '{response_id}' not found."))


def _sse(record: ResponseRecord, starting_after: int | None, creating: bool = False) -> Response:
    """The event stream, subject to ``stream`` faults (errors, resets, drops)."""
    sandbox = state()  # the generator runs after the request context is gone
    sandbox.count_call("stream")
    fault = sandbox.faults.take("stream", sandbox.now())
    if fault is not None:
        g.call.entry["outcome"] = "stream_fault"
        time.sleep(fault.delay)
        answered = fault_answer(fault, g.call)
        if answered is not None:
            return answered

    def aborted(sent: int) -> None:
        if creating and sent == 0:
            sandbox.mark_unheard(record.id)
        if not record.background:  # hanging up on a foreground response cancels it
            sandbox.cancel(record)

    events = paced_stream(
        record,
        starting_after,
        sandbox.now,
        drop_after=None if fault is None else fault.drop_after,
        on_abort=aborted,
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(events, mimetype="text/event-stream", headers=headers)
