"""The `/errand settings` modal: a channel's default model, effort and tier for each kind
that offers a choice, built with slack_sdk's Block Kit models (which check Slack's limits
as they are built), read back from its submission, and the line that tells the channel."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.people import actor
from bot.blocks.text import fit
from bot.ids import BlockId, CallbackId
from models.kinds import Kind
from models.options import NAMES

KIND_DEFAULT = "kind"  # the option meaning "no channel default: the kind's own value"
LABELS = {"model": "Model", "effort": "Reasoning effort", "tier": "Service tier"}
NAME_MAX = 100  # characters of a kind's title or a value in the line that tells the channel
Defaults = dict[str, str | None]


def offered(kind: Kind) -> list[str]:
    """The options of `kind` a channel can choose: those with more than one value."""
    return [name for name in NAMES if len(kind.allowed(name)) > 1]


def block_id(kind: str, option: str) -> str:
    return f"{BlockId.SETTING.value}:{kind}:{option}"


def settings_modal(channel: str, kinds: list[Kind], current: dict[str, Defaults]) -> dict[str, Any]:
    """The form for `channel`, each select showing the channel's default now (or the
    kind's own); the channel rides along in the private metadata."""
    blocks: list[Any] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=f"Defaults for jobs started in <#{channel}>. A request can still choose "
                "its own (`/research --model … <question>`); a job's card says which it ran "
                "with and why."
            )
        )
    ]
    for kind in kinds:
        names = offered(kind)
        if not names:
            continue
        blocks.append(HeaderBlock(text=f"{kind.title} ({kind.command})"[:150]))
        for name in names:
            blocks.append(_select(kind, name, (current.get(kind.name) or {}).get(name)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_who())]))
    view = View(
        type="modal",
        callback_id=CallbackId.CHANNEL_SETTINGS.value,
        private_metadata=json.dumps({"channel": channel}),
        title=PlainTextObject(text="Channel settings"),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
    )
    return view.to_dict()


def _who() -> str:
    return "The channel's creator, workspace admins and on-call can change these."


def _select(kind: Kind, name: str, chosen: str | None) -> InputBlock:
    own = {"model": kind.model, "effort": kind.effort, "tier": kind.service_tier}[name]
    first = Option(value=KIND_DEFAULT, text=f"Kind default ({own or 'the provider decides'})")
    options = [first, *(Option(value=v, text=v) for v in kind.allowed(name))]
    initial = next((o for o in options[1:] if o.value == chosen), first)
    return InputBlock(
        block_id=block_id(kind.name, name),
        label=LABELS[name],
        optional=True,
        element=StaticSelectElement(
            action_id=BlockId.SETTING_INPUT.value, options=options, initial_option=initial
        ),
    )


def read_settings(view: dict[str, Any]) -> tuple[str, dict[str, Defaults]]:
    """The channel and, per kind, each option's value (None: the kind's own), as
    submitted; a kind whose selects are missing is left out."""
    meta = json.loads(view.get("private_metadata") or "{}")
    values = (view.get("state") or {}).get("values") or {}
    chosen: dict[str, Defaults] = {}
    for block, inputs in values.items():
        prefix, _, rest = str(block).partition(":")
        kind, _, name = rest.partition(":")
        if prefix != BlockId.SETTING.value or name not in NAMES:
            continue
        picked = ((inputs or {}).get(BlockId.SETTING_INPUT.value) or {}).get("selected_option")
        value = (picked or {}).get("value")
        chosen.setdefault(kind, {})[name] = None if value in (None, KIND_DEFAULT) else str(value)
    return str(meta.get("channel") or ""), chosen


def saved_line(user: str, kinds: dict[str, Kind], chosen: dict[str, Defaults]) -> str:
    """Who set the channel's defaults, and which: everyone's new jobs there run with them,
    so the channel is told, as Slack tells it of a new topic."""
    chosen_now = [
        f"*{fit(kinds[kind].title, NAME_MAX)}* {LABELS[name].lower()} `{fit(value, NAME_MAX)}`"
        for kind, values in chosen.items()
        for name, value in values.items()
        if value
    ]
    said = "; ".join(chosen_now) or "none, so every kind runs with its own"
    return f":gear: {actor(user)} set the defaults for new jobs in this channel: {said}."
