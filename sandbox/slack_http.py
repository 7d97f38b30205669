"""Request plumbing of the Web API stand-in: arguments, tokens, recording, JSON answers.

Slack accepts arguments as a query string, a form, multipart or JSON; a token as a
Bearer header or a `token` argument. Every call is recorded whatever its outcome, and
`SlackError` never escapes: it becomes the body, status and headers Slack would send.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import flask

from sandbox.slack_common import SlackError
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
JSON_STRING_ARGS = ("blocks", "attachments", "metadata", "view", "files", "chunks")


def parse_args(request: flask.Request) -> JSON:
    """Query string plus a form-encoded, multipart or JSON body, as Slack accepts them.

    slack_sdk labels even body-less calls (`auth.test` without arguments) as JSON, so an
    empty JSON body means "no arguments", not `invalid_json`.
    """
    args: JSON = dict(request.args.items())
    if request.is_json and request.get_data(cache=True).strip():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        args.update(body)
    else:
        args.update(request.form.items())
    return args


def recorded_args(args: JSON) -> JSON:
    """Arguments as the call log shows them: token dropped, JSON-string fields decoded."""
    out = {k: v for k, v in args.items() if k != "token"}
    for key in JSON_STRING_ARGS:
        if isinstance(out.get(key), str):
            with contextlib.suppress(json.JSONDecodeError):
                out[key] = json.loads(out[key])
    return out


def bearer_token(request: flask.Request, args: JSON) -> str | None:
    """Slack takes the token from `Authorization: Bearer` or a `token` argument."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    token = args.get("token")
    return str(token) if token else None


def check_auth(state: SandboxState, token: str | None) -> None:
    """`not_authed` without a token, `invalid_auth` for a token the workspace refuses."""
    if token is None:
        raise SlackError("not_authed")
    if not state.settings.token_is_valid(token):
        raise SlackError("invalid_auth")


def run_recorded(
    state: SandboxState, method: str, args: JSON, action: Callable[[], JSON]
) -> tuple[JSON, int, dict[str, str]]:
    """Apply faults, run `action` under the lock, record the call; never raises SlackError."""
    with state.lock:
        hold = 0.0
        try:
            fault = state.faults.take(method)
            if fault is not None:
                raise fault
            body, status, headers = action(), 200, {}
            hold = state.faults.delay(method)
        except SlackError as err:
            body, status, headers = err.body(), err.status, err.headers
        state.record_call(method, recorded_args(args), status, body)
    time.sleep(hold)  # done, but the client hears late (outside the lock)
    return body, status, headers


def json_response(body: JSON, status: int, headers: dict[str, str]) -> flask.Response:
    response = flask.jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response


def control_body() -> JSON:
    """The JSON object body of a `/_sandbox` request (empty when absent), or a 400 answer."""
    body = flask.request.get_json(silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        flask.abort(bad_request("body must be an object"))
    return body


def bad_request(error: str, status: int = 400) -> flask.Response:
    """A control-API refusal: `{"ok": false, "error": ...}` with a 4xx status."""
    response = flask.jsonify(ok=False, error=error)
    response.status_code = status
    return response
