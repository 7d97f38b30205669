"""HTTP plumbing: answers, and the steps every ``/v1`` call takes around its handler.

Before the handler: log the request, count it, check the bearer key, charge the rate-limit
budgets, then apply an injected fault (hold, error, reset) unless it is a "made" fault, which
waits until the handler has done the work. After: the made fault's error or reset replaces
the answer, the bookkeeping notes what the client actually heard, and every answer gets the
``x-request-id``, ``openai-processing-ms`` and ``x-ratelimit-*`` headers the real API sends.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Response, current_app, g, request

from sandbox.openai_errors import (
    ApiError,
    ErrorContext,
    injected,
    invalid_key,
    missing_key,
    request_id,
)
from sandbox.openai_faults import DroppedConnection, Fault
from sandbox.openai_requestlog import entry
from sandbox.openai_responses import JSON, estimated_tokens
from sandbox.openai_state import SandboxState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

RESET_FLAG = "sandbox.reset"
ENDPOINT_NAMES = {
    "openai_responses.create_response": "create",
    "openai_responses.retrieve_response": "retrieve",
    "openai_responses.cancel_response": "cancel",
    "openai_batches.upload_file": "files.create",
    "openai_batches.retrieve_file": "files.retrieve",
    "openai_batches.file_content": "files.content",
    "openai_batches.delete_file": "files.delete",
    "openai_batches.create_batch": "batches.create",
    "openai_batches.retrieve_batch": "batches.retrieve",
    "openai_batches.cancel_batch": "batches.cancel",
    "openai_batches.list_batches": "batches.list",
}
_RESPONSE_ENDPOINTS = frozenset({"create", "retrieve", "cancel"})


@dataclass
class Call:
    """One API call in flight (``g.call``): what the steps around the handler share."""

    endpoint: str
    body: Any
    entry: JSON
    started: float
    api_key: str = ""
    response_id: str | None = None
    fault: Fault | None = None
    answer_delay: float = 0.0
    rate_headers: dict[str, str] = field(default_factory=dict)
    request_id: str = field(default_factory=request_id)


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
) -> Response:
    """An error in OpenAI's shape, which the SDK maps to its typed exceptions."""
    return api_error(ApiError(status, message, type_, param, code))


def api_error(problem: ApiError) -> Response:
    """The error's JSON body (or HTML page) with its headers."""
    if problem.html is not None:
        return Response(problem.html, problem.status, problem.headers, mimetype="text/html")
    return json_response(problem.body(), problem.status, problem.headers)


def note_created(response_id: str) -> None:
    """The handler made a response: later steps (and the log) refer to it."""
    call: Call = g.call
    call.response_id = call.entry["response_id"] = response_id


# -- before the handler -----------------------------------------------------------------------


def begin_api_call() -> Response | None:
    """``before_request`` for the API: log, count, authenticate, rate-limit, inject."""
    endpoint = ENDPOINT_NAMES.get(request.endpoint or "")
    if endpoint is None:
        return None
    sandbox = state()
    body = request.get_json(silent=True) if request.is_json else None
    call = Call(endpoint, body, _log_entry(endpoint, body), time.monotonic())
    g.call = call
    sandbox.log.add(call.entry, sandbox.now())
    call.response_id = (request.view_args or {}).get("response_id")
    sandbox.count_call(endpoint, call.response_id if endpoint in _RESPONSE_ENDPOINTS else None)
    problem = _authenticate(call) or _charge(call)
    return api_error(problem) if problem is not None else _inject(call)


def _log_entry(endpoint: str, body: Any) -> JSON:
    headers = request.headers
    names = [name for name, _ in headers.items()]
    key = headers.get("Idempotency-Key")
    made = entry(request.method, request.path, endpoint, body, names, key, request.args)
    made["response_id"] = (request.view_args or {}).get("response_id")
    return made


def _authenticate(call: Call) -> ApiError | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    call.api_key = key.strip()
    if scheme.lower() != "bearer" or not call.api_key:
        return missing_key()
    expected = state().settings.api_key
    return None if expected is None or call.api_key == expected else invalid_key(call.api_key)


def _charge(call: Call) -> ApiError | None:
    """Take from the budgets: creates always, other calls only with ``rate_limit_reads``."""
    sandbox = state()
    settings = sandbox.settings
    if call.endpoint != "create" and not settings.rate_limit_reads:
        return None
    tokens = estimated_tokens(call.body) if isinstance(call.body, dict) else 0
    limits = (settings.rpm_limit, settings.tpm_limit)
    verdict = sandbox.limiter.admit(sandbox.now(), limits, tokens, context(call))
    call.rate_headers = verdict.headers
    if verdict.refusal is not None:
        call.entry["outcome"] = "rate_limited"
    return verdict.refusal


def context(call: Call, fault: Fault | None = None) -> ErrorContext:
    """What an error's wording needs from this call."""
    model = call.body.get("model") if isinstance(call.body, dict) else None
    return ErrorContext(
        api_key=call.api_key,
        model=model if isinstance(model, str) else "the requested model",
        retry_after=None if fault is None else fault.retry_after,
        request_id=call.request_id,
    )


def _inject(call: Call) -> Response | None:
    tier = call.body.get("service_tier") if isinstance(call.body, dict) else None
    fault = state().faults.take(call.endpoint, state().now(), tier)
    if fault is None:
        return None
    call.entry["outcome"] = "made_fault" if fault.made else "fault"
    if fault.delay:
        time.sleep(fault.delay)
    call.answer_delay = fault.answer_delay
    if fault.made:
        call.fault = fault
        return None
    return fault_answer(fault, call)


def fault_answer(fault: Fault, call: Call) -> Response | None:
    """The answer a fault imposes: a reset, an error, or ``None`` (answer normally)."""
    if fault.reset:
        request.environ[RESET_FLAG] = True
        return Response(b"", 500)
    if fault.status is not None:
        return api_error(injected(fault.status, fault.error, context(call, fault), fault.html))
    return None


# -- after the handler ------------------------------------------------------------------------


def finish_api_call(response: Response) -> Response:
    """``after_request``: made faults, bookkeeping, standard headers, then any hold."""
    call: Call | None = g.get("call")
    if call is None:
        return response
    sandbox = state()
    if call.fault is not None:
        response = fault_answer(call.fault, call) or response
    reset = bool(request.environ.get(RESET_FLAG))
    heard = response.status_code < 400 and not reset
    if call.endpoint == "create" and call.response_id and not heard:
        sandbox.mark_unheard(call.response_id)
    if call.endpoint == "retrieve" and call.response_id and heard:
        sandbox.note_seen(call.response_id)
    response.headers.update(_standard_headers(call))
    call.entry["status"] = None if reset else response.status_code
    if reset:
        call.entry["outcome"] = "reset"
    _hold(call)
    return response


def _standard_headers(call: Call) -> dict[str, str]:
    sandbox = state()
    settings = sandbox.settings
    limits = (settings.rpm_limit, settings.tpm_limit)
    rate = call.rate_headers or sandbox.limiter.peek(sandbox.now(), limits)
    elapsed_ms = int((time.monotonic() - call.started) * 1000)
    return {**rate, "x-request-id": call.request_id, "openai-processing-ms": str(elapsed_ms)}


def _hold(call: Call) -> None:
    """A fault's ``answer_delay``: the work is done, the client hears late (or never)."""
    if call.answer_delay <= 0:
        return
    time.sleep(call.answer_delay)
    if call.endpoint == "create" and call.response_id and client_gone():
        state().mark_unheard(call.response_id)
        call.entry["outcome"] = "client_gone"


def client_gone() -> bool:
    """Whether the client closed its connection (it timed out or was cancelled)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return False
    try:
        data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return not data


class ResettingApp:
    """WSGI wrapper: an answer flagged for reset becomes a dropped connection, unanswered."""

    def __init__(self, app: WSGIApplication) -> None:
        """Wrap ``app`` (the Flask app)."""
        self._app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve, unless a fault asked for the connection to be cut."""
        result = self._app(environ, start_response)
        if environ.get(RESET_FLAG):
            close = getattr(result, "close", None)
            if close is not None:
                close()
            raise DroppedConnection("sandbox fault: connection reset")
        return result
