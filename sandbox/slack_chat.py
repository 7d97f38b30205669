"""`chat.*` methods: post, update, delete, ephemeral, permalink.

Each handler runs with the state lock held (see `slack_api`), validates like Slack
(channel, membership, text length, Block Kit limits) and returns the documented shape.
"""

from __future__ import annotations

import time
from typing import Any

from sandbox import slack_render as render
from sandbox.slack_blocks import validate_blocks
from sandbox.slack_common import SlackError, as_bool, json_field, new_block_id, opt_str, require_str
from sandbox.slack_models import Conversation, Ephemeral, Message
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
TEXT_MAX = 40_000


def conversation_for(state: SandboxState, args: JSON, name: str = "channel") -> Conversation:
    """The conversation an argument names, or `channel_not_found`."""
    conv = state.find_conversation(require_str(args, name))
    if conv is None:
        raise SlackError("channel_not_found")
    return conv


def require_bot_in(state: SandboxState, conv: Conversation) -> None:
    """Bots write only in live channels they are in: `is_archived`, then `not_in_channel`."""
    if conv.archived:
        raise SlackError("is_archived")
    if state.settings.bot_user_id not in conv.members:
        raise SlackError("not_in_channel")


def checked_blocks(args: JSON) -> list[JSON] | None:
    """`blocks` decoded and within Block Kit limits, or `invalid_blocks` with reasons."""
    blocks = json_field(args, "blocks", "invalid_blocks_format")
    if blocks is None:
        return None
    problems = validate_blocks(blocks)
    if problems:
        raise SlackError(
            "invalid_blocks",
            messages=[f"[ERROR] {p}" for p in problems],
            extra={"errors": problems},
        )
    return _with_block_ids(blocks)


def _with_block_ids(blocks: list[JSON]) -> list[JSON]:
    """Slack stores a random `block_id` on blocks sent without one; interactivity needs it."""
    return [
        block if "block_id" in block else {**block, "block_id": new_block_id()} for block in blocks
    ]


def checked_text(args: JSON) -> str | None:
    """`text` within the 40,000-character limit (Slack: `msg_too_long`)."""
    text = args.get("text")
    if text is None:
        return None
    text = str(text)
    if len(text) > TEXT_MAX:
        raise SlackError("msg_too_long")
    return text


def checked_metadata(args: JSON) -> JSON | None:
    """Message metadata must be `{event_type: str, event_payload: object}`."""
    metadata = json_field(args, "metadata", "invalid_metadata_format")
    if metadata is None:
        return None
    ok = (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload", {}), dict)
    )
    if not ok:
        raise SlackError("invalid_metadata_format")
    return {
        "event_type": metadata["event_type"],
        "event_payload": metadata.get("event_payload", {}),
    }


def resolve_thread(conv: Conversation, thread_ts: str | None) -> str | None:
    """A reply's thread is its parent's; replying to a reply joins the same thread."""
    if thread_ts is None:
        return None
    parent = conv.messages.get(thread_ts)
    if parent is None or parent.deleted:
        raise SlackError("thread_not_found")
    return parent.thread_ts if parent.thread_ts not in (None, parent.ts) else parent.ts


def add_message(state: SandboxState, conv: Conversation, msg: Message) -> None:
    """Store a message, mark its parent as a thread, and announce the change."""
    if msg.thread_ts is not None:
        conv.messages[msg.thread_ts].thread_ts = msg.thread_ts
        conv.replies.setdefault(msg.thread_ts, []).append(msg.ts)
    conv.messages[msg.ts] = msg
    state.bump("message_posted", channel=conv.id, ts=msg.ts, thread_ts=msg.thread_ts)


def post_message(state: SandboxState, args: JSON) -> JSON:
    """chat.postMessage: needs text, blocks or attachments; threads via `thread_ts`."""
    conv = conversation_for(state, args)
    require_bot_in(state, conv)
    text, blocks = checked_text(args), checked_blocks(args)
    attachments = json_field(args, "attachments", "invalid_attachments")
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    thread_ts = resolve_thread(conv, opt_str(args, "thread_ts"))
    msg = Message(
        ts=state.new_ts(),
        user=state.settings.bot_user_id,
        text=text or "",
        blocks=blocks,
        attachments=attachments,
        metadata=checked_metadata(args),
        thread_ts=thread_ts,
        reply_broadcast=thread_ts is not None and as_bool(args.get("reply_broadcast")),
    )
    add_message(state, conv, msg)
    return {
        "ok": True,
        "channel": conv.id,
        "ts": msg.ts,
        "message": render.message(state, conv, msg),
    }


def existing_message(conv: Conversation, ts: str) -> Message:
    """A live message by ts, or `message_not_found`."""
    msg = conv.messages.get(ts)
    if msg is None or msg.deleted:
        raise SlackError("message_not_found")
    return msg


def apply_edit(
    state: SandboxState, msg: Message, text: str | None, blocks: list[JSON] | None
) -> None:
    """Slack's rule: new text without blocks drops the old blocks; the old text stays otherwise."""
    if blocks is not None:
        msg.blocks = blocks
    elif text is not None:
        msg.blocks = None
    if text is not None:
        msg.text = text
    msg.stream = None  # an edited stream is an ordinary message from now on
    msg.edited = {"user": state.settings.bot_user_id, "ts": state.new_ts()}


def update(state: SandboxState, args: JSON) -> JSON:
    """chat.update: edit a bot message in place (the status card)."""
    conv = conversation_for(state, args)
    require_bot_in(state, conv)
    msg = existing_message(conv, require_str(args, "ts"))
    if msg.user != state.settings.bot_user_id:
        raise SlackError("cant_update_message")
    if msg.stream and msg.stream.state == "streaming" and time.time() < msg.stream.deadline:
        raise SlackError("streaming_state_conflict")  # measured: streams take appends only
    text, blocks = checked_text(args), checked_blocks(args)
    attachments = json_field(args, "attachments", "invalid_attachments")
    if text is None and blocks is None and attachments is None:
        raise SlackError("no_text")
    metadata = checked_metadata(args)
    apply_edit(state, msg, text, blocks)
    if attachments is not None:
        msg.attachments = attachments
    if metadata is not None:
        msg.metadata = metadata
    state.bump("message_updated", channel=conv.id, ts=msg.ts, thread_ts=msg.thread_ts)
    rendered = render.message(state, conv, msg)
    return {"ok": True, "channel": conv.id, "ts": msg.ts, "text": msg.text, "message": rendered}


def delete_message(state: SandboxState, conv: Conversation, msg: Message) -> None:
    """Remove a message; a thread parent with replies stays behind as a tombstone."""
    if msg.thread_ts == msg.ts and render.thread_replies(conv, msg.ts):
        msg.deleted, msg.text, msg.blocks = True, "This message was deleted.", None
    else:
        del conv.messages[msg.ts]
    state.bump("message_deleted", channel=conv.id, ts=msg.ts, thread_ts=msg.thread_ts)


def delete(state: SandboxState, args: JSON) -> JSON:
    """chat.delete: only the bot's own messages."""
    conv = conversation_for(state, args)
    require_bot_in(state, conv)
    msg = existing_message(conv, require_str(args, "ts"))
    if msg.user != state.settings.bot_user_id:
        raise SlackError("cant_delete_message")
    delete_message(state, conv, msg)
    return {"ok": True, "channel": conv.id, "ts": msg.ts}


def post_ephemeral(state: SandboxState, args: JSON) -> JSON:
    """chat.postEphemeral: visible to one member of the channel, never stored in history."""
    conv = conversation_for(state, args)
    user_id = require_str(args, "user")
    if user_id not in state.users:
        raise SlackError("user_not_found")
    require_bot_in(state, conv)
    if user_id not in conv.members:
        raise SlackError("user_not_in_channel")
    text, blocks = checked_text(args), checked_blocks(args)
    if not text and not blocks and not args.get("attachments"):
        raise SlackError("no_text")
    eph = Ephemeral(
        message_ts=state.new_ts(),
        user=user_id,
        text=text or "",
        blocks=blocks,
        thread_ts=opt_str(args, "thread_ts"),
        source="chat.postEphemeral",
    )
    add_ephemeral(state, conv, eph)
    return {"ok": True, "message_ts": eph.message_ts}


def add_ephemeral(state: SandboxState, conv: Conversation, eph: Ephemeral) -> None:
    """Keep an ephemeral message in the recipient's private view of the channel."""
    conv.ephemeral.setdefault(eph.user, []).append(eph)
    state.bump("ephemeral_posted", channel=conv.id, ts=eph.message_ts, user=eph.user)


def get_permalink(state: SandboxState, args: JSON) -> JSON:
    """chat.getPermalink: Slack's `/archives/<channel>/p<ts>` link; replies name their thread."""
    conv = conversation_for(state, args)
    msg = existing_message(conv, require_str(args, "message_ts"))
    s = state.settings
    link = f"https://{s.team_domain}.slack.com/archives/{conv.id}/p{msg.ts.replace('.', '')}"
    if msg.thread_ts not in (None, msg.ts):
        link += f"?thread_ts={msg.thread_ts}&cid={conv.id}"
    return {"ok": True, "channel": conv.id, "permalink": link}


METHODS = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.delete": delete,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
}
