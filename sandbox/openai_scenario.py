"""Scenario directives typed into the prompt of a sandbox OpenAI request.

Tests and the demo drive the stand-in from Slack, where the only thing they control is the
text of the question, so the scenario travels inside the input text.

Grammar (case-insensitive; any number of blocks anywhere in the input; later values win)::

    directive-block = "[sandbox:" *( item *( "," / " " ) ) "]"
    item            = "duration=" SECONDS       ; total time from creation to terminal status
                    / "queue=" SECONDS          ; time spent "queued" before "in_progress"
                    / "fail" [ "=" ERROR-CODE ] ; terminal "failed" (default code server_error)
                    / "incomplete" [ "=" REASON ] ; REASON: max_output_tokens (default)
                                                ;         / content_filter
                    / "chars=" N                ; exact length of the answer text
                    / "slow"                    ; duration 600 s unless duration= is given
                    / "vary"                    ; each response words its answer its own
                                                ;   way, as a model asked again does

SECONDS may be fractional (``duration=0.5``). Unknown items and malformed values are ignored
rather than rejected: a typo in a demo should not break the demo. Example::

    Compare heat pumps in cold climates [sandbox: duration=5 queue=1 chars=20000]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

Outcome = Literal["completed", "failed", "incomplete"]

SLOW_SECONDS = 600.0
_BLOCK = re.compile(r"\[sandbox:(?P<body>[^\]]*)\]", re.IGNORECASE)
_ERROR_CODES = frozenset(
    {"server_error", "rate_limit_exceeded", "invalid_prompt", "vector_store_timeout"}
)
_INCOMPLETE_REASONS = frozenset({"max_output_tokens", "content_filter"})


@dataclass(frozen=True)
class Scenario:
    """What one response should do; ``None`` means "use the configured default"."""

    duration: float | None = None
    queue: float | None = None
    outcome: Outcome = "completed"
    error_code: str = "server_error"
    incomplete_reason: str = "max_output_tokens"
    chars: int | None = None
    slow: bool = False
    vary: bool = False

    def resolved_duration(self, default: float) -> float:
        """Explicit ``duration=`` beats ``slow``, which beats the configured default."""
        if self.duration is not None:
            return self.duration
        return SLOW_SECONDS if self.slow else default


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number >= 0 and number != float("inf") else None


def _apply(scenario: Scenario, key: str, value: str | None) -> Scenario:
    """Fold one ``key[=value]`` item into the scenario; ignore anything unrecognised."""
    number = _number(value) if value is not None else None
    if key in ("duration", "queue", "chars"):
        return scenario if number is None else _apply_number(scenario, key, number)
    if key == "slow":
        return replace(scenario, slow=True)
    if key == "vary":
        return replace(scenario, vary=True)
    if key == "fail":
        code = value if value in _ERROR_CODES else "server_error"
        return replace(scenario, outcome="failed", error_code=code)
    if key == "incomplete":
        reason = value if value in _INCOMPLETE_REASONS else "max_output_tokens"
        return replace(scenario, outcome="incomplete", incomplete_reason=reason)
    return scenario


def _apply_number(scenario: Scenario, key: str, number: float) -> Scenario:
    if key == "duration":
        return replace(scenario, duration=number)
    if key == "queue":
        return replace(scenario, queue=number)
    return replace(scenario, chars=max(1, int(number)))


def parse_directives(text: str) -> Scenario:
    """Read every ``[sandbox: ...]`` block in ``text`` into one scenario."""
    scenario = Scenario()
    for block in _BLOCK.finditer(text):
        for item in re.split(r"[\s,]+", block.group("body").strip().lower()):
            if item:
                key, sep, value = item.partition("=")
                scenario = _apply(scenario, key, value if sep else None)
    return scenario


def strip_directives(text: str) -> str:
    """The question without its directive blocks, used to generate the answer."""
    return re.sub(r"[ \t]{2,}", " ", _BLOCK.sub("", text)).strip()


def input_text(value: object) -> str:
    """Flatten a Responses ``input`` (string, messages, content parts) into plain text."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(_dict_texts(value))
    if isinstance(value, list):
        return "\n".join(t for t in (input_text(v) for v in value) if t)
    return ""


def _dict_texts(item: dict[str, object]) -> Iterable[str]:
    for key in ("text", "content"):
        text = input_text(item.get(key))
        if text:
            yield text
