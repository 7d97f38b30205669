"""What Slack sends an app when people write, mention it, press Stop or pick a shortcut.

Events API events (`message`, `app_mention`, `agent_session_stopped`) go inside the
`event_callback` envelope (`slack_signing.event_callback_body`); a message shortcut is
an interactivity payload of type `message_action`. Shapes follow Slack's reference
pages: a mention carries the message's `text`, `ts`, `channel` and, in a thread,
`thread_ts`; people's messages carry `client_msg_id` and the `rich_text` blocks Slack's
composer makes.
"""

from __future__ import annotations

import re
import time
from typing import Any

from sandbox import slack_signing as signing
from sandbox.slack_common import new_block_id
from sandbox.slack_models import Conversation, Message

JSON = dict[str, Any]
_SPECIAL = re.compile(r"<([@#])([A-Z0-9_]+)(?:\|([^>]*))?>")
CHANNEL_TYPES = {"channel": "channel", "im": "im", "mpim": "mpim"}


def rich_text(text: str) -> list[JSON]:
    """The `rich_text` block Slack's composer sends: text, with mentions as user elements."""
    elements: list[JSON] = []
    at = 0
    for found in _SPECIAL.finditer(text):
        if found.start() > at:
            elements.append({"type": "text", "text": text[at : found.start()]})
        if found.group(1) == "@":
            elements.append({"type": "user", "user_id": found.group(2)})
        else:
            elements.append({"type": "channel", "channel_id": found.group(2)})
        at = found.end()
    if at < len(text):
        elements.append({"type": "text", "text": text[at:]})
    section = {"type": "rich_text_section", "elements": elements}
    return [{"type": "rich_text", "block_id": new_block_id(), "elements": [section]}]


def message_event(conv: Conversation, msg: Message, team_id: str) -> JSON:
    """`message` as `message.channels` (`.groups`, `.im`, `.mpim`) subscriptions deliver it."""
    event: JSON = {
        "type": "message",
        "user": msg.user,
        "text": msg.text,
        "ts": msg.ts,
        "client_msg_id": msg.client_msg_id,
        "team": team_id,
        "blocks": msg.blocks or [],
        "channel": conv.id,
        "event_ts": msg.ts,
        "channel_type": channel_type(conv),
    }
    if msg.thread_ts not in (None, msg.ts):
        parent = conv.messages.get(msg.thread_ts or "")
        event.update(thread_ts=msg.thread_ts, parent_user_id=parent.user if parent else None)
    return event


def app_mention_event(conv: Conversation, msg: Message, team_id: str) -> JSON:
    """`app_mention`: a message in a channel the app is in that mentions it."""
    event: JSON = {
        "type": "app_mention",
        "user": msg.user,
        "text": msg.text,
        "ts": msg.ts,
        "client_msg_id": msg.client_msg_id,
        "team": team_id,
        "blocks": msg.blocks or [],
        "channel": conv.id,
        "event_ts": msg.ts,
    }
    if msg.thread_ts not in (None, msg.ts):
        event["thread_ts"] = msg.thread_ts
    return event


def agent_session_stopped_event(
    channel: str, thread_ts: str, user: str, streaming_ts: list[str]
) -> JSON:
    """A person clicked Stop on a processing session; `streaming_message_ts` lists the
    app's streams Slack stopped (empty when none was live)."""
    return {
        "type": "agent_session_stopped",
        "user": user,
        "channel": channel,
        "thread_ts": thread_ts,
        "streaming_message_ts": streaming_ts,
        "event_ts": signing.action_ts(),
    }


def message_action_payload(
    callback_id: str,
    user: str,
    conv: Conversation,
    message: JSON,
    trigger_id: str,
    response_url: str,
    team: JSON,
) -> JSON:
    """A message shortcut: the message it was picked on, with a trigger and a response_url."""
    name = signing.user_name(user)
    return {
        "type": "message_action",
        "token": signing.VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": team,
        "user": {"id": user, "name": name, "username": name, "team_id": team["id"]},
        "channel": {"id": conv.id, "name": channel_name(conv)},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
        "response_url": response_url,
        "message_ts": message["ts"],
        "message": message,
    }


def channel_type(conv: Conversation) -> str:
    """Slack calls private channels `group` in message events."""
    if conv.kind == "channel" and conv.is_private:
        return "group"
    return CHANNEL_TYPES[conv.kind]


def channel_name(conv: Conversation) -> str:
    return "directmessage" if conv.kind == "im" else conv.name
