"""Requests to a Bolt app, built and signed exactly as Slack sends them.

Slack signs `v0:{timestamp}:{raw body}` with HMAC-SHA256 under the app's signing secret;
Bolt rejects anything else. These helpers let tests and the fake Slack client drive the
real Bolt app over HTTP: slash commands, button clicks, modal submissions, App Home.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from sandbox.slack_workspace import DEFAULT_CHANNELS, DEFAULT_USERS, SlackSandboxSettings

JSON = dict[str, Any]
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
VERIFICATION_TOKEN = "sandbox-verification-token"

_DEFAULTS = SlackSandboxSettings()
TEAM_ID = _DEFAULTS.team_id
TEAM_DOMAIN = _DEFAULTS.team_domain
APP_ID = _DEFAULTS.app_id
_CHANNEL_NAMES = {c.id: c.name for c in DEFAULT_CHANNELS}
_USER_NAMES = {u.id: u.name for u in DEFAULT_USERS}


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """`X-Slack-Request-Timestamp` and `X-Slack-Signature` headers for `body`."""
    ts = int(time.time()) if timestamp is None else timestamp
    base = b"v0:" + str(ts).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def form_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Signed headers plus the form content type (commands and interactivity)."""
    return {"Content-Type": FORM_CONTENT_TYPE, **sign(body, secret, timestamp)}


def json_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Signed headers plus the JSON content type (Events API)."""
    return {"Content-Type": JSON_CONTENT_TYPE, **sign(body, secret, timestamp)}


def new_trigger_id() -> str:
    """A random Slack-shaped trigger_id (`SandboxState.new_trigger_id` also remembers the user)."""
    return f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"


def action_ts() -> str:
    """A Slack-style `seconds.micros` timestamp for `action_ts`/`event_ts`."""
    now = time.time()
    return f"{int(now)}.{int((now % 1) * 1_000_000):06d}"


def channel_name(channel_id: str) -> str:
    """Slack reports DMs as `directmessage` and group DMs as `mpdm-...`."""
    if channel_id.startswith("D"):
        return "directmessage"
    return _CHANNEL_NAMES.get(channel_id, channel_id.lower())


def user_name(user_id: str) -> str:
    return _USER_NAMES.get(user_id, user_id.lower())


def slash_command_body(
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    trigger_id: str,
    team_id: str = TEAM_ID,
    *,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    token: str = VERIFICATION_TOKEN,
) -> bytes:
    """A slash command's form body, fields in the order Slack sends them."""
    fields = [
        ("token", token),
        ("team_id", team_id),
        ("team_domain", team_domain),
        ("channel_id", channel_id),
        ("channel_name", channel_name(channel_id)),
        ("user_id", user_id),
        ("user_name", user_name(user_id)),
        ("command", command),
        ("text", text),
        ("api_app_id", api_app_id),
        ("is_enterprise_install", "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id),
    ]
    return urlencode(fields).encode()


def _user(user_id: str, team_id: str) -> JSON:
    name = user_name(user_id)
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def interactivity_body(payload: JSON) -> bytes:
    """Interactivity arrives as a form with a single `payload` field holding JSON."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


def block_actions_body(
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    trigger_id: str,
    response_url: str,
    *,
    block_id: str = "",
    button_text: str | None = None,
    message: JSON | None = None,
    thread_ts: str | None = None,
    is_ephemeral: bool = False,
    state_values: JSON | None = None,
    action_type: str = "button",
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    token: str = VERIFICATION_TOKEN,
) -> bytes:
    """A button click on a message, as Slack posts it to the interactivity URL.

    Pass `message` (e.g. from `GET /_sandbox/channels/<id>/messages`) so the app sees
    the real card; otherwise a minimal bot message with `message_ts` is sent. Ephemeral
    messages carry no `message`, as in Slack.
    """
    container: JSON = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel_id,
        "is_ephemeral": is_ephemeral,
    }
    if thread_ts:
        container["thread_ts"] = thread_ts
    payload: JSON = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": api_app_id,
        "token": token,
        "container": container,
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name(channel_id)},
        "state": {"values": state_values or {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": button_text or action_id, "emoji": True},
                "value": value,
                "type": action_type,  # button, feedback_buttons or icon_button
                "action_ts": action_ts(),
            }
        ],
    }
    if not is_ephemeral:
        payload["message"] = message or _minimal_message(message_ts, thread_ts, team_id)
    return interactivity_body(payload)


def _minimal_message(message_ts: str, thread_ts: str | None, team_id: str) -> JSON:
    s = _DEFAULTS
    msg: JSON = {
        "type": "message",
        "user": s.bot_user_id,
        "ts": message_ts,
        "bot_id": s.bot_id,
        "app_id": s.app_id,
        "text": "",
        "team": team_id,
        "blocks": [],
    }
    if thread_ts:
        msg["thread_ts"] = thread_ts
    return msg


def view_submission_body(
    callback_id: str,
    private_metadata: str,
    state_values: JSON,
    user_id: str,
    *,
    view_id: str = "V_SANDBOX",
    blocks: list[JSON] | None = None,
    title: str = "Errand",
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    token: str = VERIFICATION_TOKEN,
) -> bytes:
    """A modal's submit, with `view.state.values` as `{block_id: {action_id: {...}}}`."""
    view: JSON = {
        "id": view_id,
        "team_id": team_id,
        "type": "modal",
        "blocks": blocks or [],
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": state_values},
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": {"type": "plain_text", "text": title, "emoji": True},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": api_app_id,
        "external_id": "",
        "app_installed_team_id": team_id,
        "bot_id": _DEFAULTS.bot_id,
    }
    payload: JSON = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "api_app_id": api_app_id,
        "token": token,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return interactivity_body(payload)


def app_home_opened_body(
    user_id: str,
    *,
    channel_id: str = "D_HOME",
    tab: str = "home",
    view: JSON | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    token: str = VERIFICATION_TOKEN,
) -> bytes:
    """An Events API `event_callback` envelope carrying `app_home_opened`."""
    event: JSON = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel_id,
        "tab": tab,
        "event_ts": action_ts(),
    }
    if view is not None:
        event["view"] = view
    return event_callback_body(event, team_id=team_id, api_app_id=api_app_id, token=token)


def event_callback_body(
    event: JSON,
    *,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    token: str = VERIFICATION_TOKEN,
    bot_user_id: str = _DEFAULTS.bot_user_id,
) -> bytes:
    """Any Events API event in the `event_callback` envelope Slack posts (JSON, signed)."""
    envelope: JSON = {
        "token": token,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_urlsafe(24)}",
    }
    return json.dumps(envelope).encode()
