"""A job's options (model, reasoning effort, service tier): what a request asks for, what
its channel sets as defaults, and what its kind says, resolved in that order.

A request names them at the start of its text: `--model gpt-5-mini --effort high` after a
slash command, `[model: gpt-5-mini, effort: high]` in a mention. Each value must be one its
kind allows (`Kind.allowed`), or the request is refused with the values it may use, before
any job exists. The job keeps what it ran with and why, so its card can say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from models.errors import InputRejected
from models.kinds import Kind

NAMES = ("model", "effort", "tier")
_FLAG = re.compile(r"^\s*--([A-Za-z_-]+)(?:=|\s+|$)(\S*)")
_TAG = re.compile(r"^\s*\[([^\[\]]*)\]")
_TAG_ITEM = re.compile(r"^\s*([A-Za-z_-]+)\s*:\s*(\S*)\s*$")


class Source(StrEnum):
    """Why an option has its value, as the card says it."""

    REQUEST = "request"
    CHANNEL = "channel default"
    KIND = "kind default"


@dataclass(frozen=True)
class Choice:
    """One option's value (None: left to the provider) and why."""

    value: str | None
    source: Source


@dataclass(frozen=True)
class Options:
    """What a job runs with, by option name."""

    chosen: dict[str, Choice]

    def value(self, name: str) -> str | None:
        choice = self.chosen.get(name)
        return choice.value if choice else None

    def as_json(self) -> dict[str, Any]:
        """As stored on the job: `{"model": {"value": …, "source": …}, …}`."""
        return {n: {"value": c.value, "source": c.source.value} for n, c in self.chosen.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Options | None:
        """The options stored on a job; None for a job stored before they were kept."""
        if not data:
            return None
        return cls(
            {
                name: Choice(item.get("value"), Source(item.get("source") or Source.KIND))
                for name, item in data.items()
                if name in NAMES and isinstance(item, dict)
            }
        )

    def describe(self) -> list[str]:
        """`model gpt-5-mini: channel default`, one per option that has a value."""
        return [f"{n} {c.value}: {c.source.value}" for n, c in self.chosen.items() if c.value]


def split_options(text: str) -> tuple[dict[str, str], str]:
    """The options at the start of `text` (flags or bracketed tags, in any mix) and the
    rest. A bracket that names no option (`[sandbox: slow]`) is left in the text."""
    found: dict[str, str] = {}
    rest = text or ""
    while True:
        flag = _FLAG.match(rest)
        if flag:
            _put(found, flag.group(1), flag.group(2), f"--{flag.group(1)}")
            rest = rest[flag.end() :]
            continue
        tag = _TAG.match(rest)
        if tag and _is_options_tag(tag.group(1)):
            for item in tag.group(1).split(","):
                key, _, value = item.partition(":")
                _put(found, key.strip(), value.strip(), f"[{key.strip()}: …]")
            rest = rest[tag.end() :]
            continue
        return found, rest.strip()


def _is_options_tag(inside: str) -> bool:
    first = _TAG_ITEM.match(inside.split(",", 1)[0])
    return first is not None and _name(first.group(1)) in NAMES


def _name(raw: str) -> str:
    name = raw.strip().lower().replace("-", "_")
    return "tier" if name == "service_tier" else name


def _put(found: dict[str, str], raw: str, value: str, said: str) -> None:
    name = _name(raw)
    if name not in NAMES:
        raise InputRejected(
            f"`{said}` is not an option. Options: `--model`, `--effort` and `--tier` "
            "(or `[model: …, effort: …, tier: …]` in a mention), before the question."
        )
    if not value:
        raise InputRejected(f"`{said}` needs a value: say which {name} to use.")
    found[name] = value


def check(kind: Kind, requested: dict[str, str]) -> dict[str, str]:
    """`requested` if the kind allows every value; otherwise a refusal naming them."""
    for name, value in requested.items():
        allowed = kind.allowed(name)
        if value not in allowed:
            raise InputRejected(refusal(kind, name, value))
    return requested


def refusal(kind: Kind, name: str, value: str) -> str:
    """The sentence for a value the kind does not allow, with the ones it does."""
    allowed = kind.allowed(name)
    if not allowed:
        return f"{kind.command} takes no {name} option: its {name} is left to the provider."
    listed = ", ".join(f"`{v}`" for v in allowed)
    return f"`{value[:64]}` is not a {name} {kind.command} can use. Allowed: {listed}."


def resolve(kind: Kind, requested: dict[str, str], channel: dict[str, str | None]) -> Options:
    """Each option from the request, else the channel's default (while the kind still
    allows it), else the kind's own."""
    check(kind, requested)
    own = {"model": kind.model, "effort": kind.effort, "tier": kind.service_tier}
    chosen: dict[str, Choice] = {}
    for name in NAMES:
        default = channel.get(name)
        if name in requested:
            chosen[name] = Choice(requested[name], Source.REQUEST)
        elif default and default in kind.allowed(name):
            chosen[name] = Choice(default, Source.CHANNEL)
        else:
            chosen[name] = Choice(own[name], Source.KIND)
    return Options(chosen)
