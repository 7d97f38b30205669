"""`reactions.add`, `reactions.remove`, `reactions.get`: emoji on messages.

The app reacts as its bot user. Slack allows 23 different emoji on one message
(`too_many_emoji`), one of each per person (`already_reacted`), and answers
`no_reaction` when removing one that is not there.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox import slack_render as render
from sandbox.slack_chat import conversation_for, existing_message, require_bot_in
from sandbox.slack_common import SlackError, opt_str, require_str
from sandbox.slack_models import Conversation, Message
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
DISTINCT_EMOJI_MAX = 23
_EMOJI_NAME = re.compile(r"^[a-z0-9_+'-]+(::skin-tone-[2-6])?$")


def reactions_add(state: SandboxState, args: JSON) -> JSON:
    """Add the bot's reaction `name` to the message at `timestamp`."""
    conv, msg, name = _target(state, args)
    users = msg.reactions.get(name, [])
    if state.settings.bot_user_id in users:
        raise SlackError("already_reacted")
    if name not in msg.reactions and len(msg.reactions) >= DISTINCT_EMOJI_MAX:
        raise SlackError("too_many_emoji")
    msg.reactions[name] = [*users, state.settings.bot_user_id]
    state.bump("reaction_added", channel=conv.id, ts=msg.ts, thread_ts=msg.thread_ts, name=name)
    return {"ok": True}


def reactions_remove(state: SandboxState, args: JSON) -> JSON:
    """Take the bot's reaction `name` off the message; `no_reaction` if it had none."""
    conv, msg, name = _target(state, args)
    users = msg.reactions.get(name, [])
    if state.settings.bot_user_id not in users:
        raise SlackError("no_reaction")
    remaining = [u for u in users if u != state.settings.bot_user_id]
    if remaining:
        msg.reactions[name] = remaining
    else:
        del msg.reactions[name]
    state.bump("reaction_removed", channel=conv.id, ts=msg.ts, thread_ts=msg.thread_ts, name=name)
    return {"ok": True}


def reactions_get(state: SandboxState, args: JSON) -> JSON:
    """The message with its reactions, as Slack returns it (`type: message`)."""
    conv = conversation_for(state, args)
    msg = existing_message(conv, _timestamp(args))
    out = render.message(state, conv, msg)
    return {"ok": True, "type": "message", "channel": conv.id, "message": out}


def _target(state: SandboxState, args: JSON) -> tuple[Conversation, Message, str]:
    """The writable message and a well-formed emoji name (colons optional)."""
    name = require_str(args, "name").strip(":")
    if not _EMOJI_NAME.match(name):
        raise SlackError("invalid_name")
    conv = conversation_for(state, args)
    require_bot_in(state, conv)
    return conv, existing_message(conv, _timestamp(args)), name


def _timestamp(args: JSON) -> str:
    """Reactions name their message by `timestamp`; a missing one is `no_item_specified`."""
    timestamp = opt_str(args, "timestamp")
    if timestamp is None:
        raise SlackError("no_item_specified")
    return timestamp


METHODS = {
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "reactions.get": reactions_get,
}
