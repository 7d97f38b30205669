"""Errors and argument helpers shared by every Web API method of the sandbox.

Slack answers most failures with HTTP 200 and `{"ok": false, "error": ...}`; raising
`SlackError` from deep inside a handler keeps every method down to its happy path.
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

JSON = dict[str, Any]


class SlackError(Exception):
    """A Slack-shaped failure: error code, HTTP status, extra response fields, headers."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        messages: list[str] | None = None,
        extra: JSON | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.messages = messages or []
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> JSON:
        """The JSON body Slack would send, with `response_metadata.messages` when known."""
        body: JSON = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            body["response_metadata"] = {"messages": list(self.messages)}
        return body


def missing(name: str) -> SlackError:
    """`invalid_arguments`, worded like Slack's JSON-body validation messages."""
    return SlackError("invalid_arguments", messages=[f"[ERROR] missing required field: {name}"])


def require_str(args: JSON, name: str) -> str:
    """A required string argument; empty strings count as missing, as in Slack."""
    value = args.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise missing(name)
    return str(value)


def opt_str(args: JSON, name: str) -> str | None:
    """An optional string argument, `None` when absent or empty."""
    value = args.get(name)
    if value is None or value == "":
        return None
    return str(value)


def as_bool(value: object, default: bool = False) -> bool:
    """Form bodies carry booleans as "1"/"0"/"true"/"false"; JSON bodies as real booleans."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def json_field(args: JSON, name: str, error: str) -> Any:
    """Decode a field that form bodies send as a JSON string (blocks, view, metadata...)."""
    value = args.get(name)
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise SlackError(error, messages=[f"[ERROR] {name} is not valid JSON: {exc.msg}"]) from exc


def split_ids(value: object) -> list[str]:
    """`users=U1,U2` in a form body, or a JSON list, as a list of ids."""
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return []


def new_block_id() -> str:
    """A random 5-character block_id, as Slack fills in for blocks sent without one."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(5))
