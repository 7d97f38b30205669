"""The response_url stand-in: what Slack does with a JSON body POSTed to a response_url.

Bolt's `respond()` posts here. Ephemeral answers land in the requesting user's private
view of the channel, `in_channel` ones become real messages, and `replace_original` /
`delete_original` act on the message whose button produced the URL.
"""

from __future__ import annotations

from typing import Any

from sandbox import slack_chat as chat
from sandbox.slack_common import SlackError, as_bool
from sandbox.slack_models import Conversation, Ephemeral, Message, ResponseUrl
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]


def respond(state: SandboxState, token: str, body: JSON) -> JSON:
    """Apply one response_url POST; raises `SlackError` with Slack's 404 codes."""
    record = _usable(state, token)
    conv = state.conversations.get(record.channel_id)
    if conv is None:
        raise SlackError("channel_not_found", status=404)
    text, blocks = chat.checked_text(body), chat.checked_blocks(body)
    record.uses += 1
    if as_bool(body.get("delete_original")):
        _delete_original(state, conv, record)
    elif as_bool(body.get("replace_original")) and record.message_ts:
        _replace_original(state, conv, record, text, blocks)
    elif body.get("response_type") == "in_channel":
        _post_in_channel(state, conv, body, text, blocks)
    else:
        eph = Ephemeral(
            state.new_ts(),
            record.user_id,
            text or "",
            blocks,
            body.get("thread_ts"),
            "response_url",
        )
        chat.add_ephemeral(state, conv, eph)
    return {"ok": True}


def _usable(state: SandboxState, token: str) -> ResponseUrl:
    """Unknown tokens are `expired_url`; Slack allows five uses per URL (`used_url`)."""
    record = state.response_urls.get(token)
    if record is None:
        raise SlackError("expired_url", status=404)
    if record.uses >= state.settings.response_url_max_uses:
        raise SlackError("used_url", status=404)
    return record


def _own_ephemeral(conv: Conversation, record: ResponseUrl) -> Ephemeral | None:
    for eph in conv.ephemeral.get(record.user_id, []):
        if eph.message_ts == record.message_ts:
            return eph
    return None


def _delete_original(state: SandboxState, conv: Conversation, record: ResponseUrl) -> None:
    """Delete the message (or the user's ephemeral message) holding the button."""
    eph = _own_ephemeral(conv, record)
    if eph is not None:
        conv.ephemeral[record.user_id].remove(eph)
        state.bump("ephemeral_deleted", channel=conv.id, ts=eph.message_ts, user=record.user_id)
        return
    msg = conv.messages.get(record.message_ts or "")
    if msg is None or msg.deleted:
        raise SlackError("message_not_found", status=404)
    chat.delete_message(state, conv, msg)


def _replace_original(
    state: SandboxState,
    conv: Conversation,
    record: ResponseUrl,
    text: str | None,
    blocks: list[JSON] | None,
) -> None:
    """Replace the original message's content in place, as an edit."""
    eph = _own_ephemeral(conv, record)
    if eph is not None:
        eph.text, eph.blocks = text or "", blocks
        state.bump("ephemeral_updated", channel=conv.id, ts=eph.message_ts, user=record.user_id)
        return
    msg = conv.messages.get(record.message_ts or "")
    if msg is None or msg.deleted:
        raise SlackError("message_not_found", status=404)
    chat.apply_edit(state, msg, text, blocks)
    state.bump("message_updated", channel=conv.id, ts=msg.ts, thread_ts=msg.thread_ts)


def _post_in_channel(
    state: SandboxState, conv: Conversation, body: JSON, text: str | None, blocks: list[JSON] | None
) -> None:
    """`in_channel` answers are posted by the app even where the bot is not a member."""
    thread_ts = chat.resolve_thread(conv, body.get("thread_ts"))
    msg = Message(
        ts=state.new_ts(),
        user=state.settings.bot_user_id,
        text=text or "",
        blocks=blocks,
        thread_ts=thread_ts,
        source="response_url",
    )
    chat.add_message(state, conv, msg)
