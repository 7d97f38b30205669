"""People's actions as HTTP endpoints: `/_sandbox/client/<action>` on the stand-in and
`/ui/api/<action>` on the page, one table for both.

Every body names who acts (`user`). The stand-in signs what Slack would send and posts
it to the app's request URL; the answer is `{"ok", "status"}` (the app's HTTP status)
plus what the action produced. A request Slack's client would not make (a message that
is gone, a file too big) is refused with 409 and `{"ok": false, "error": ...}`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import flask

from sandbox import slack_people as people
from sandbox.slack_client import SlackClient
from sandbox.slack_delivery import ClientError
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
Action = Callable[[SandboxState, JSON], JSON]


def _command(state: SandboxState, body: JSON) -> JSON:
    """`{"channel", "text": "/research heat pumps"}`."""
    name, _, text = str(body.get("text") or "").strip().partition(" ")
    if not name.startswith("/"):
        raise ClientError("a command starts with /")
    client = SlackClient(state)
    return client.command(user_of(body), _need(body, "channel"), name, text.strip()).as_json()


def _press(state: SandboxState, body: JSON) -> JSON:
    """`{"channel", "ts", "action_id", "block_id", "value"}` or `{"view_id", ...}`."""
    return SlackClient(state).press(user_of(body), body).as_json()


def _submit(state: SandboxState, body: JSON) -> JSON:
    """`{"view_id", "values": {block_id: {action_id: "text" | ["F1", ...]}}}`."""
    values = body.get("values") if isinstance(body.get("values"), dict) else {}
    sent = SlackClient(state).submit(user_of(body), _need(body, "view_id"), values or {})
    return sent.as_json()


def _close(state: SandboxState, body: JSON) -> JSON:
    SlackClient(state).close(user_of(body))
    return {"ok": True}


def _home(state: SandboxState, body: JSON) -> JSON:
    return SlackClient(state).open_home(user_of(body)).as_json()


def _message(state: SandboxState, body: JSON) -> JSON:
    """`{"channel", "text", "thread_ts"?}`: a person writes; mentions reach the app."""
    thread_ts = str(body["thread_ts"]) if body.get("thread_ts") else None
    text = _need(body, "text")
    return people.post_message(state, user_of(body), _need(body, "channel"), text, thread_ts)


def _shortcut(state: SandboxState, body: JSON) -> JSON:
    """`{"channel", "ts", "callback_id"?}`: a message shortcut from the message's menu."""
    callback_id = str(body["callback_id"]) if body.get("callback_id") else None
    channel, ts = _need(body, "channel"), _need(body, "ts")
    return people.shortcut(state, user_of(body), channel, ts, callback_id).as_json()


def _stop(state: SandboxState, body: JSON) -> JSON:
    """`{"channel", "thread_ts"}`: Stop on the thread's processing agent session."""
    return people.stop_session(
        state, user_of(body), _need(body, "channel"), _need(body, "thread_ts")
    )


def _upload(state: SandboxState, body: JSON) -> JSON:
    """A multipart `file` (the page), or `{"name", "content" | "content_base64"}`."""
    picked = flask.request.files.get("file")
    if picked is not None:
        return people.upload_file(state, user_of(body), picked.filename or "file", picked.read())
    name = _need(body, "name")
    if body.get("content_base64") is not None:
        try:
            content = base64.b64decode(str(body["content_base64"]), validate=True)
        except binascii.Error as exc:
            raise ClientError("content_base64 is not base64") from exc
    else:
        content = str(body.get("content") or "").encode()
    return people.upload_file(state, user_of(body), name, content)


ACTIONS: dict[str, Action] = {
    "command": _command,
    "press": _press,
    "submit": _submit,
    "close": _close,
    "home": _home,
    "message": _message,
    "shortcut": _shortcut,
    "stop": _stop,
    "upload": _upload,
}


def register(target: flask.Flask | flask.Blueprint, state: SandboxState, prefix: str) -> None:
    """Mount every action (except those `target` defines itself) at `{prefix}/<action>`."""
    for name, action in ACTIONS.items():
        rule = f"{prefix}/{name}"
        if any(r.rule == rule for r in _rules(target)):
            continue
        target.add_url_rule(
            rule, endpoint=f"client_{name}", view_func=_view(state, action), methods=["POST"]
        )


def _rules(target: flask.Flask | flask.Blueprint) -> list[Any]:
    return list(target.url_map.iter_rules()) if isinstance(target, flask.Flask) else []


def _view(state: SandboxState, action: Action) -> Callable[[], flask.Response]:
    def view() -> flask.Response:
        try:
            return flask.jsonify(action(state, request_body()))
        except ClientError as exc:
            response = flask.jsonify(ok=False, error=str(exc))
            response.status_code = 409
            return response

    return view


def request_body() -> JSON:
    """A JSON object body, or a form's fields (the page uploads files as multipart)."""
    if flask.request.mimetype == "multipart/form-data":
        return dict(flask.request.form.items())
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ClientError("expected a JSON object")
    return body


def user_of(body: JSON) -> str:
    user = str(body.get("user") or "")
    if not user:
        raise ClientError("who is acting? (user is missing)")
    return user


def _need(body: JSON, name: str) -> str:
    value = body.get(name)
    if value in (None, ""):
        raise ClientError(f"{name} is missing")
    return str(value)
