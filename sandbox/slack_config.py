"""Switches of the Slack stand-in that a test may flip mid-run (`/_sandbox/settings`).

The seed (`SlackSandboxSettings`) says who exists; these say how strict Slack is and
where Slack sends events. They start from the command line (`--rate-limits off`) and
go back to those start values on every reset, so one test's switch never leaks into
the next test. Defaults are the strict, documented behaviour: the stand-in must be no
kinder than Slack.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
RATE_MODES = ("documented", "off")
# Slack's 2025 limits for conversations.history/replies apply to commercially distributed
# apps outside the Marketplace; Marketplace and internal (customer-built) apps keep Tier 3.
DISTRIBUTIONS = ("non_marketplace", "marketplace", "internal")
# What the app subscribes to in its manifest; Slack sends no other event types.
DEFAULT_BOT_EVENTS = ("app_home_opened", "app_mention", "agent_session_stopped")
KNOWN_BOT_EVENTS = frozenset(
    {
        *DEFAULT_BOT_EVENTS,
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
    }
)
_ERROR_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class MessageShortcut:
    """A message shortcut from the app's manifest: what the message menu offers."""

    callback_id: str
    name: str

    def as_json(self) -> JSON:
        return {"callback_id": self.callback_id, "name": self.name}


@dataclass(frozen=True)
class RuntimeSettings:
    """How strict the stand-in is and where it delivers; replaced whole on each change."""

    rate_limits: str | float = "documented"
    distribution: str = "non_marketplace"
    streaming: bool | str = True
    stream_max_seconds: float = 300.0
    agent: bool = True
    request_url: str | None = None
    signing_secret: str | None = None
    bot_events: tuple[str, ...] = DEFAULT_BOT_EVENTS
    message_shortcuts: tuple[MessageShortcut, ...] = (
        MessageShortcut("research_this", "Research this"),
    )

    def patched(self, patch: JSON) -> RuntimeSettings:
        """A copy with `patch` applied; `ValueError` names the first bad key or value."""
        changes: JSON = {}
        for key, value in patch.items():
            parse = _PARSERS.get(key)
            if parse is None:
                raise ValueError(f"unknown setting {key!r}; known: {', '.join(sorted(_PARSERS))}")
            changes[key] = parse(value)
        return dataclasses.replace(self, **changes)

    def rate_multiplier(self) -> float | None:
        """How much more (or less) than documented Slack allows; `None` when limits are off."""
        if self.rate_limits == "off":
            return None
        return 1.0 if self.rate_limits == "documented" else float(self.rate_limits)

    def streaming_refusal(self) -> str | None:
        """The error `chat.startStream` answers when streaming is switched off."""
        if self.streaming is True:
            return None
        return "not_authorized" if self.streaming is False else str(self.streaming)

    def history_is_restricted(self) -> bool:
        """True when conversations.history/replies get 1 per minute and 15 messages."""
        return self.distribution == "non_marketplace"

    def describe(self) -> JSON:
        """Every switch as JSON; the signing secret is never shown, only whether it is set."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["bot_events"] = list(self.bot_events)
        out["message_shortcuts"] = [s.as_json() for s in self.message_shortcuts]
        out["signing_secret"] = None
        out["signing_secret_set"] = self.signing_secret is not None
        return out


def parse_rate_limits(value: object) -> str | float:
    """`documented`, `off` (or a boolean), or a positive multiplier of the documented budgets."""
    if isinstance(value, bool):
        return "documented" if value else "off"
    if isinstance(value, str) and value in RATE_MODES:
        return value
    try:
        factor = float(str(value))
    except ValueError:
        raise ValueError("rate_limits must be 'documented', 'off' or a multiplier") from None
    if not factor > 0:
        raise ValueError("a rate_limits multiplier must be above 0")
    return factor


def _distribution(value: object) -> str:
    if value not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}")
    return str(value)


def _streaming(value: object) -> bool | str:
    """`true`, `false` (refused with `not_authorized`) or the error code to refuse with."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and _ERROR_CODE.match(value):
        return value
    raise ValueError("streaming must be true, false or a Slack error code")


def _seconds(value: object) -> float:
    seconds = float(str(value))
    if not seconds > 0:
        raise ValueError("stream_max_seconds must be above 0")
    return seconds


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _optional_text(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def _bot_events(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(v in KNOWN_BOT_EVENTS for v in value):
        raise ValueError(f"bot_events must list some of {', '.join(sorted(KNOWN_BOT_EVENTS))}")
    return tuple(str(v) for v in value)


def _shortcuts(value: object) -> tuple[MessageShortcut, ...]:
    """`[{"callback_id": ..., "name": ...}]`, as the manifest's message shortcuts."""
    if not isinstance(value, list | tuple):
        raise ValueError("message_shortcuts must be a list of {callback_id, name}")
    found = []
    for item in value:
        if not isinstance(item, dict) or not item.get("callback_id"):
            raise ValueError("each message shortcut needs a callback_id")
        callback_id = str(item["callback_id"])
        found.append(MessageShortcut(callback_id, str(item.get("name") or callback_id)))
    return tuple(found)


_PARSERS: dict[str, Callable[[object], Any]] = {
    "rate_limits": parse_rate_limits,
    "distribution": _distribution,
    "streaming": _streaming,
    "stream_max_seconds": _seconds,
    "agent": _flag,
    "request_url": _optional_text,
    "signing_secret": _optional_text,
    "bot_events": _bot_events,
    "message_shortcuts": _shortcuts,
}


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """Start values of the switches `/_sandbox/settings` flips (and reset restores)."""
    add = parser.add_argument
    add("--rate-limits", help="documented (default), off, or a multiplier such as 0.5")
    add("--distribution", help="non_marketplace (default), marketplace or internal")
    add("--streaming", help="on (default), off, or the error code chat.startStream answers")
    add("--stream-max-seconds", type=float, help="a stream's lifetime (default 300)")
    add("--not-agent", action="store_true", help="agents.sessions.* answer not_authorized")
    add("--request-url", help="where Events API and interactivity requests are sent")
    add("--signing-secret", help="the app's signing secret for those requests")
    add("--bot-events", help="comma-separated event subscriptions")
    add("--shortcut", action="append", metavar="CALLBACK_ID=NAME", help="a message shortcut")


def runtime_patch(ns: argparse.Namespace) -> dict[str, Any]:
    """The command line as a settings patch; only the flags given."""
    given = ("rate_limits", "distribution", "stream_max_seconds", "request_url", "signing_secret")
    patch: dict[str, Any] = {key: getattr(ns, key) for key in given if getattr(ns, key)}
    if ns.streaming is not None:
        patch["streaming"] = {"on": True, "off": False}.get(ns.streaming, ns.streaming)
    if ns.not_agent:
        patch["agent"] = False
    if ns.bot_events:
        patch["bot_events"] = ns.bot_events.split(",")
    if ns.shortcut:
        pairs = [item.partition("=") for item in ns.shortcut]
        patch["message_shortcuts"] = [{"callback_id": k, "name": v or k} for k, _, v in pairs]
    return patch
