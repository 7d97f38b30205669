"""Small HTTP helpers shared by the stand-in's OpenAI routes and its control routes."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Response, current_app, g

from sandbox.openai_state import Fault, SandboxState

_FAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    429: (
        "Rate limit reached for requests. Please try again later.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    503: (
        "The server is overloaded or not ready yet. Please try again later.",
        "server_error",
        None,
    ),
}


def state() -> SandboxState:
    """The state of the app serving the current request."""
    found: SandboxState = current_app.extensions["sandbox_openai"]
    return found


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON with the key order we built (Flask's ``jsonify`` sorts keys, and is slower)."""
    return Response(json.dumps(body), status, headers, mimetype="application/json")


def error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error in OpenAI's shape, which the SDK maps to its typed exceptions."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return json_response(body, status, headers)


def apply_fault(endpoint: str) -> Response | None:
    """Consume an injected fault: sleep its delay, then answer its error if it has one."""
    fault = state().take_fault(endpoint)
    if fault is None:
        return None
    if fault.delay > 0:
        time.sleep(fault.delay)
    if fault.status is None:
        g.answer_delay = fault.answer_delay
        return None
    return fault_response(fault)


def hold_answer(response: Response) -> Response:
    """After a request: a fault's `answer_delay`, once the work has been done."""
    time.sleep(g.pop("answer_delay", 0.0))
    return response


def fault_response(fault: Fault) -> Response:
    """The error body and headers the real API sends for that status."""
    assert fault.status is not None
    default = ("Injected sandbox fault.", "server_error", None)
    message, type_, code = _FAULT_ERRORS.get(fault.status, default)
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    return error(fault.status, message, type_=type_, code=code, headers=headers)
