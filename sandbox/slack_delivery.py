"""Sending signed requests to the app's request URL, as Slack does, and remembering them.

Slash commands, interactivity and Events API callbacks all go to the one request URL
(`request_url` setting) signed with the app's signing secret (`signing_secret`), which
never leaves Python. Each delivery is kept (kind, payload, HTTP status, time taken) for
`GET /_sandbox/deliveries`, so a test can check what the app was sent and how fast it
answered (Slack gives up after 3 seconds).
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx

from sandbox import slack_signing as signing
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
BOT_TIMEOUT = 10.0  # Slack gives up after 3 s; a local sandbox can be more patient
# One client for every delivery (a new one loads every CA certificate: ~20 ms of CPU), with
# a connection of its own for each, as Slack's deliveries come.
_SENDER = httpx.Client(timeout=BOT_TIMEOUT, limits=httpx.Limits(max_keepalive_connections=0))
SLACK_ACK_SECONDS = 3.0


class ClientError(Exception):
    """Something a person asked for that Slack's client would not do (a missing message)."""


@dataclass(frozen=True)
class Sent:
    """How the app answered one request, for the page and the control API to show."""

    status: int
    errors: JSON | None = None

    def as_json(self) -> JSON:
        body: JSON = {"ok": self.status == 200, "status": self.status}
        if self.errors:
            body["errors"] = self.errors
        return body


def post_form(state: SandboxState, body: bytes, kind: str) -> httpx.Response:
    """A slash command or an interactivity payload (form-encoded)."""
    return _post(state, body, kind, signing.form_headers)


def post_event(state: SandboxState, body: bytes) -> httpx.Response:
    """An Events API `event_callback` (JSON)."""
    return _post(state, body, "event_callback", signing.json_headers)


def redeliver(state: SandboxState, seq: int, reason: str = "http_timeout") -> httpx.Response:
    """Slack's retry of an Events API delivery (it retries when the app did not answer
    2xx within 3 seconds, up to three times): the same event, `event_id` included,
    signed afresh, with `X-Slack-Retry-Num` counting the retries and the reason."""
    with state.lock:
        first = next((d for d in state.deliveries if d["seq"] == seq), None)
        if first is None or first["kind"] != "event_callback":
            raise ClientError(f"no event delivery {seq} to retry")
        number = first.setdefault("retries", 0) + 1
        first["retries"] = number
    body = json.dumps(first["payload"]).encode()

    def headers(raw: bytes, secret: str) -> dict[str, str]:
        retry = {"X-Slack-Retry-Num": str(number), "X-Slack-Retry-Reason": reason}
        return {**signing.json_headers(raw, secret), **retry}

    return _post(state, body, "event_callback", headers)


def deliveries(state: SandboxState, since: int = 0) -> list[JSON]:
    with state.lock:
        return [d for d in state.deliveries if d["seq"] > since]


def _post(state: SandboxState, body: bytes, kind: str, headers: Any) -> httpx.Response:
    with state.lock:
        url, secret = state.config.request_url, state.config.signing_secret
    if not url or not secret:
        raise ClientError("the stand-in has no request_url and signing_secret to send to")
    started = time.monotonic()
    try:
        reply = _SENDER.post(url, content=body, headers=headers(body, secret))
    except httpx.HTTPError as exc:
        _remember(state, kind, body, None, time.monotonic() - started)
        raise ClientError(f"the app did not answer ({type(exc).__name__})") from exc
    _remember(state, kind, body, reply.status_code, time.monotonic() - started)
    return reply


def _remember(
    state: SandboxState, kind: str, body: bytes, status: int | None, elapsed: float
) -> None:
    payload = _payload(body)
    event = payload.get("event") if isinstance(payload.get("event"), dict) else None
    with state.lock:
        state.deliveries.append(
            {
                "seq": len(state.deliveries) + 1,
                "kind": kind,
                "type": (event or payload).get("type") or payload.get("command"),
                "status": status,
                "elapsed": round(elapsed, 3),
                "late": elapsed > SLACK_ACK_SECONDS,
                "at": time.time(),
                "payload": payload,
            }
        )


def _payload(body: bytes) -> JSON:
    """The JSON inside a delivery: the event envelope, `payload=`, or the command's fields."""
    with contextlib.suppress(ValueError):
        decoded = json.loads(body)
        if isinstance(decoded, dict):
            return decoded
    fields = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    if "payload" in fields:
        with contextlib.suppress(ValueError):
            return dict(json.loads(fields["payload"]))
    return fields


def ack_json(reply: httpx.Response) -> JSON:
    """The ack's JSON object body, if it has one."""
    if "json" not in reply.headers.get("content-type", ""):
        return {}
    with contextlib.suppress(ValueError):
        body = reply.json()
        if isinstance(body, dict):
            return body
    return {}
