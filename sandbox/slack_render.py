"""Stored sandbox objects rendered as Slack's documented JSON shapes.

Kept in one place so `chat.postMessage`'s `message`, `conversations.history` and the
web UI's conversation view agree on what a message looks like.
"""

from __future__ import annotations

from typing import Any

from sandbox.slack_models import (
    Conversation,
    Ephemeral,
    Message,
    StoredView,
)
from sandbox.slack_render_files import file_object
from sandbox.slack_state import SandboxState
from sandbox.slack_stream_blocks import stream_blocks
from sandbox.slack_workspace import SandboxUser

JSON = dict[str, Any]


def bot_profile(state: SandboxState) -> JSON:
    """The `bot_profile` Slack attaches to every message an app posts."""
    s = state.settings
    return {
        "id": s.bot_id,
        "app_id": s.app_id,
        "name": s.bot_real_name,
        "icons": {"image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png"},
        "deleted": False,
        "updated": 0,
        "team_id": s.team_id,
    }


def message(
    state: SandboxState, conv: Conversation, msg: Message, *, metadata: bool = True
) -> JSON:
    """A message as `chat.postMessage`/`conversations.history` return it.

    History and replies carry message metadata only when asked (`include_all_metadata`).
    """
    out: JSON = {"type": "message", "text": msg.text, "user": msg.user, "ts": msg.ts}
    out["team"] = state.settings.team_id
    if msg.user == state.settings.bot_user_id:
        out.update(bot_id=state.settings.bot_id, app_id=state.settings.app_id)
        out["bot_profile"] = bot_profile(state)
    if msg.deleted:
        out.update(subtype="tombstone", hidden=True)
    for key in ("blocks", "attachments", "edited"):
        if getattr(msg, key) is not None:
            out[key] = getattr(msg, key)
    if msg.stream is not None:
        out["blocks"] = stream_blocks(msg.stream)
    if metadata and msg.metadata is not None:
        out["metadata"] = msg.metadata
    if msg.reactions:
        out["reactions"] = reactions(msg)
    if msg.file_ids:
        out["files"] = [file_object(state, state.files[f]) for f in msg.file_ids]
        out.update(upload=True, display_as_bot=False)
    if msg.thread_ts is not None:
        out.update(_thread_fields(state, conv, msg))
    return out


def reactions(msg: Message) -> list[JSON]:
    """`[{name, users, count}]` as messages and `reactions.get` carry them."""
    return [
        {"name": name, "users": list(users), "count": len(users)}
        for name, users in msg.reactions.items()
    ]


def _thread_fields(state: SandboxState, conv: Conversation, msg: Message) -> JSON:
    """Parent messages carry reply counts; replies carry their parent's author."""
    if msg.thread_ts != msg.ts:
        parent = conv.messages.get(msg.thread_ts or "")
        fields: JSON = {
            "thread_ts": msg.thread_ts,
            "parent_user_id": parent.user if parent else None,
        }
        if msg.reply_broadcast:
            fields["subtype"] = "thread_broadcast"
        return fields
    replies = thread_replies(conv, msg.ts)
    users = sorted({r.user for r in replies})
    return {
        "thread_ts": msg.ts,
        "reply_count": len(replies),
        "reply_users_count": len(users),
        "reply_users": users,
        "latest_reply": replies[-1].ts if replies else msg.ts,
        "is_locked": False,
        "subscribed": False,
    }


def thread_replies(conv: Conversation, thread_ts: str) -> list[Message]:
    """Replies of a thread (not its parent), oldest first."""
    found = [conv.messages[ts] for ts in conv.replies.get(thread_ts, ()) if ts in conv.messages]
    return sorted(found, key=lambda m: m.ts)


def top_level(conv: Conversation) -> list[Message]:
    """What the channel view shows: unthreaded messages, parents and broadcast replies."""
    shown = [m for m in conv.messages.values() if m.thread_ts in (None, m.ts) or m.reply_broadcast]
    return sorted(shown, key=lambda m: m.ts)


def message_state(state: SandboxState, conv: Conversation, msg: Message) -> JSON:
    """A message for the web UI: the API shape plus `replies`, `source` and `edited`."""
    out = message(state, conv, msg)
    out["source"] = msg.source
    out["edited"] = msg.edited
    out["streaming"] = msg.stream.state if msg.stream else None
    if msg.thread_ts in (None, msg.ts):
        out["replies"] = [message_state(state, conv, r) for r in thread_replies(conv, msg.ts)]
    return out


def ephemeral_state(eph: Ephemeral) -> JSON:
    """An ephemeral message for the web UI (Slack has no API shape for reading these)."""
    return {
        "type": "message",
        "ephemeral": True,
        "ts": eph.message_ts,
        "user": eph.user,
        "text": eph.text,
        "blocks": eph.blocks,
        "thread_ts": eph.thread_ts,
        "source": eph.source,
    }


def conversation(state: SandboxState, conv: Conversation) -> JSON:
    """A conversation object as `conversations.info` returns it."""
    bot = state.settings.bot_user_id
    if conv.kind == "im":
        return {
            "id": conv.id,
            "created": conv.created,
            "is_im": True,
            "is_org_shared": False,
            "user": conv.im_user,
            "is_user_deleted": False,
            "priority": 0,
        }
    is_channel = conv.kind == "channel"
    return {
        "id": conv.id,
        "name": conv.name,
        "name_normalized": conv.name,
        "is_channel": is_channel and not conv.is_private,
        "is_group": conv.is_private and is_channel,
        "is_im": False,
        "is_mpim": conv.kind == "mpim",
        "is_private": conv.is_private,
        "is_archived": conv.archived,
        "is_general": conv.name == "general",
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
        "is_member": bot in conv.members,
        "created": conv.created,
        "creator": conv.creator,
        "context_team_id": state.settings.team_id,
        "topic": {"value": conv.topic, "creator": "", "last_set": 0},
        "purpose": {"value": conv.purpose, "creator": "", "last_set": 0},
        "num_members": len(conv.members),
    }


def conversation_state(state: SandboxState, conv: Conversation) -> JSON:
    """A conversation for the web UI: API shape plus kind and member list."""
    return {**conversation(state, conv), "kind": conv.kind, "members": sorted(conv.members)}


def user(state: SandboxState, member: SandboxUser) -> JSON:
    """A user object as `users.info` returns it."""
    s = state.settings
    profile: JSON = {
        "real_name": member.real_name,
        "real_name_normalized": member.real_name,
        "display_name": member.name,
        "display_name_normalized": member.name,
        "team": s.team_id,
    }
    if member.email:
        profile["email"] = member.email
    if member.is_bot:
        profile.update(bot_id=s.bot_id, api_app_id=s.app_id, always_active=True)
    return {
        "id": member.id,
        "team_id": s.team_id,
        "name": member.name,
        "deleted": False,
        "real_name": member.real_name,
        "tz": member.tz,
        "tz_label": member.tz,
        "tz_offset": 0,
        "profile": profile,
        "is_admin": member.is_admin,
        "is_owner": False,
        "is_bot": member.is_bot,
        "is_app_user": False,
        "updated": 0,
    }


def view(state: SandboxState, stored: StoredView) -> JSON:
    """A view object as `views.open`/`views.publish`/`views.update` return it."""
    v, s = stored.view, state.settings
    return {
        "id": stored.id,
        "team_id": s.team_id,
        "type": stored.type,
        "title": v.get("title"),
        "blocks": v.get("blocks", []),
        "close": v.get("close"),
        "submit": v.get("submit"),
        "private_metadata": v.get("private_metadata", ""),
        "callback_id": v.get("callback_id", ""),
        "external_id": stored.external_id or "",
        "state": {"values": {}},
        "hash": stored.hash,
        "clear_on_close": bool(v.get("clear_on_close", False)),
        "notify_on_close": bool(v.get("notify_on_close", False)),
        "previous_view_id": stored.previous_view_id,
        "root_view_id": stored.root_view_id,
        "app_id": s.app_id,
        "app_installed_team_id": s.team_id,
        "bot_id": s.bot_id,
    }
