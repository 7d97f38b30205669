"""`chat.startStream`, `chat.appendStream`, `chat.stopStream`: a message that grows.

slack_sdk's `WebClient.chat_stream()` starts a stream in a thread (channel streams name
their recipient), appends chunks and stops it, optionally with blocks, metadata and the
agent session's next status. Slack closes a stream that is not stopped within about
five minutes (`stream_max_seconds`); later appends and stops get
`message_not_in_streaming_state`, and after a person pressed Stop, `stopped_by_user`.
While it streams, `chat.update` on it gets `streaming_state_conflict`. A stream is
locked to the shape it started with (`markdown_text` or `chunks`;
`streaming_mode_mismatch`). With streaming switched off, `chat.startStream` answers the
configured error, so a client must fall back to editing one message.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sandbox import slack_agents, slack_chat
from sandbox import slack_render as render
from sandbox import slack_stream_blocks as chunks_
from sandbox.slack_common import SlackError, json_field, missing, opt_str, require_str
from sandbox.slack_models import Conversation, Message, Stream
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
CLOSED_ERRORS = {"stopped_by_user": "stopped_by_user"}


def start_stream(state: SandboxState, args: JSON) -> JSON:
    """chat.startStream: a new streaming reply in `thread_ts`."""
    refusal = state.config.streaming_refusal()
    if refusal is not None:
        raise SlackError(refusal)
    conv = slack_chat.conversation_for(state, args)
    slack_chat.require_bot_in(state, conv)
    if opt_str(args, "thread_ts") is None:
        raise missing("thread_ts")
    thread_ts = slack_chat.resolve_thread(conv, opt_str(args, "thread_ts")) or ""
    stream = _new_stream(state, conv, thread_ts, args)
    _take_content(stream, args, "chat.startStream")
    msg = Message(
        ts=stream.ts,
        user=state.settings.bot_user_id,
        text=chunks_.streamed_text(stream),
        thread_ts=thread_ts,
        source="chat.startStream",
        stream=stream,
    )
    slack_chat.add_message(state, conv, msg)
    state.streams.append(stream)
    _expire_later(state, stream)
    return {"ok": True, "channel": conv.id, "ts": stream.ts}


def append_stream(state: SandboxState, args: JSON) -> JSON:
    """chat.appendStream: more markdown or chunks on a live stream."""
    conv, msg, stream = _live(state, args)
    _take_content(stream, args, "chat.appendStream")
    msg.text = chunks_.streamed_text(stream)
    state.bump("message_updated", channel=conv.id, ts=msg.ts, thread_ts=msg.thread_ts)
    return {"ok": True, "channel": conv.id, "ts": msg.ts}


def stop_stream(state: SandboxState, args: JSON) -> JSON:
    """chat.stopStream: last content, blocks at the bottom, metadata, session status."""
    conv, msg, stream = _live(state, args)
    blocks = slack_chat.checked_blocks(args)
    metadata = slack_chat.checked_metadata(args)
    session_status = opt_str(args, "session_status")
    if session_status is not None:
        slack_agents.require_agent(state)
        slack_agents.checked_status(session_status)
    _take_content(stream, args, "chat.stopStream")
    stream.final_blocks = blocks or []
    msg.text = chunks_.streamed_text(stream)
    if metadata is not None:
        msg.metadata = metadata
    _end(state, stream, "stopped")
    if session_status is not None:
        slack_agents.record_status(
            state, conv.id, stream.thread_ts, session_status, by="chat.stopStream"
        )
    rendered = render.message(state, conv, msg)
    return {"ok": True, "channel": conv.id, "ts": msg.ts, "message": rendered}


def stop_for_user(state: SandboxState, channel: str, thread_ts: str) -> list[str]:
    """A person pressed Stop: Slack stops the app's live streams in that thread."""
    stopped = []
    for stream in state.streams:
        if (stream.channel, stream.thread_ts) == (channel, thread_ts) and _is_live(state, stream):
            _end(state, stream, "stopped_by_user")
            stopped.append(stream.ts)
    return stopped


def stream_state(stream: Stream) -> JSON:
    """A stream and its recorded calls, for `/_sandbox/streams` and tests."""
    return {
        "channel": stream.channel,
        "ts": stream.ts,
        "thread_ts": stream.thread_ts,
        "state": stream.state,
        "display_mode": stream.display_mode,
        "recipient_user_id": stream.recipient_user_id,
        "recipient_team_id": stream.recipient_team_id,
        "started": stream.started,
        "deadline": stream.deadline,
        "ended": stream.ended,
        "text": chunks_.streamed_text(stream),
        "tasks": [{"id": k, **v} for k, v in stream.tasks.items()],
        "calls": list(stream.calls),
    }


# -- helpers -----------------------------------------------------------------------------


def _new_stream(state: SandboxState, conv: Conversation, thread_ts: str, args: JSON) -> Stream:
    """Channel streams must say who they are for; DMs need not."""
    user, team = opt_str(args, "recipient_user_id"), opt_str(args, "recipient_team_id")
    if conv.kind != "im" and user is None:
        raise SlackError("missing_recipient_user_id")
    if conv.kind != "im" and team is None:
        raise SlackError("missing_recipient_team_id")
    mode = opt_str(args, "task_display_mode") or "timeline"
    if mode not in chunks_.DISPLAY_MODES:
        raise SlackError("invalid_arguments", messages=["[ERROR] task_display_mode is invalid"])
    now = time.time()
    deadline = now + state.config.stream_max_seconds
    return Stream(conv.id, state.new_ts(), thread_ts, mode, now, deadline, user, team)


def _take_content(stream: Stream, args: JSON, method: str) -> None:
    """Validate, then apply, then record the call's `markdown_text` and `chunks`."""
    text = args.get("markdown_text")
    chunks = json_field(args, "chunks", "invalid_chunks")
    checked_text = None if text is None else chunks_.checked_markdown(text)
    checked_chunks = None if chunks is None else chunks_.checked_chunks(chunks)
    for shape, given in (("markdown_text", checked_text), ("chunks", checked_chunks)):
        if given is None:
            continue
        if stream.mode not in (None, shape):
            raise SlackError("streaming_mode_mismatch")
        stream.mode = shape
    if checked_text is not None:
        chunks_.apply_text(stream, checked_text)
    if checked_chunks is not None:
        chunks_.apply_chunks(stream, checked_chunks)
    call: JSON = {"method": method, "at": time.time()}
    call.update({k: v for k, v in (("markdown_text", text), ("chunks", chunks)) if v is not None})
    stream.calls.append(call)


def _live(state: SandboxState, args: JSON) -> tuple[Conversation, Message, Stream]:
    """The conversation, message and stream `channel`/`ts` name, if it still streams."""
    conv = slack_chat.conversation_for(state, args)
    slack_chat.require_bot_in(state, conv)
    msg = slack_chat.existing_message(conv, require_str(args, "ts"))
    if msg.user != state.settings.bot_user_id:
        raise SlackError("message_not_owned_by_app")
    stream = msg.stream
    if stream is None or not _is_live(state, stream):
        state_name = stream.state if stream is not None else "stopped"
        raise SlackError(CLOSED_ERRORS.get(state_name, "message_not_in_streaming_state"))
    return conv, msg, stream


def _is_live(state: SandboxState, stream: Stream) -> bool:
    """Streaming and within its lifetime (a stream past its deadline is closed now)."""
    if stream.state == "streaming" and time.time() >= stream.deadline:
        _end(state, stream, "expired")
    return stream.state == "streaming"


def _end(state: SandboxState, stream: Stream, how: str) -> None:
    stream.state, stream.ended = how, time.time()
    stream.calls.append({"method": how, "at": stream.ended})
    state.bump("message_updated", channel=stream.channel, ts=stream.ts, thread_ts=stream.thread_ts)


def _expire_later(state: SandboxState, stream: Stream) -> None:
    """Close the stream at its deadline even if nobody calls, so the page sees it end."""

    def expire() -> None:
        with state.lock:
            _is_live(state, stream)

    timer = threading.Timer(max(0.0, stream.deadline - time.time()) + 0.01, expire)
    timer.daemon = True
    timer.start()


METHODS = {
    "chat.startStream": start_stream,
    "chat.appendStream": append_stream,
    "chat.stopStream": stop_stream,
}
