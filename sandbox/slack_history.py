"""`conversations.history` and `conversations.replies`: reading what was said, page by page.

Since May 2025 a commercially distributed app outside the Marketplace gets at most 15
messages per call (the default and the maximum of `limit`), on top of one call per
minute (`slack_limits`); internal and Marketplace apps keep 100 by default and 999 at
most. Pages continue through `response_metadata.next_cursor`; metadata is returned only
with `include_all_metadata=true`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sandbox import slack_render as render
from sandbox.slack_chat import conversation_for, existing_message
from sandbox.slack_common import SlackError, as_bool, opt_str, require_str
from sandbox.slack_models import Conversation, Message
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
RESTRICTED_LIMIT = 15
DEFAULT_LIMIT = 100
MAX_LIMIT = 999


def conversations_history(state: SandboxState, args: JSON) -> JSON:
    """Top-level messages, newest first, within `oldest`/`latest`; needs membership."""
    conv = _readable(state, args)
    found = [m for m in reversed(render.top_level(conv)) if _in_window(m.ts, args)]
    return _page(state, conv, found, args)


def conversations_replies(state: SandboxState, args: JSON) -> JSON:
    """A thread, parent first then replies oldest first, with their authors."""
    conv = _readable(state, args)
    parent = existing_message(conv, require_str(args, "ts"))
    root = parent.thread_ts or parent.ts
    thread = [conv.messages[root], *render.thread_replies(conv, root)]
    found = [m for m in thread if m.ts == root or _in_window(m.ts, args)]
    return _page(state, conv, found, args)


def _readable(state: SandboxState, args: JSON) -> Conversation:
    conv = conversation_for(state, args)
    if state.settings.bot_user_id not in conv.members:
        raise SlackError("not_in_channel")
    return conv


def _in_window(ts: str, args: JSON) -> bool:
    """`oldest` < ts < `latest`, bounds included with `inclusive=true`."""
    inclusive = as_bool(args.get("inclusive"))
    oldest, latest = _bound(args, "oldest"), _bound(args, "latest")
    at = float(ts)
    after = oldest is None or at > oldest or (inclusive and at == oldest)
    before = latest is None or at < latest or (inclusive and at == latest)
    return after and before


def _bound(args: JSON, name: str) -> float | None:
    """`oldest`/`latest` as a number; Slack answers `invalid_ts_<name>` for anything else."""
    value = opt_str(args, name)
    try:
        return None if value is None else float(value)
    except ValueError:
        raise SlackError(f"invalid_ts_{name}") from None


def _page(state: SandboxState, conv: Conversation, found: list[Message], args: JSON) -> JSON:
    """One page of `found` from the cursor on, with the next cursor when more remain."""
    start = _cursor_position(args)
    limit = _limit(state, args)
    page = found[start : start + limit]
    include_metadata = as_bool(args.get("include_all_metadata"))
    body: JSON = {
        "ok": True,
        "messages": [render.message(state, conv, m, metadata=include_metadata) for m in page],
        "has_more": start + limit < len(found),
    }
    next_cursor = _cursor(start + limit) if body["has_more"] else ""
    body["response_metadata"] = {"next_cursor": next_cursor}
    return body


def _limit(state: SandboxState, args: JSON) -> int:
    """The page size asked for, within what this kind of app may get."""
    restricted = state.config.history_is_restricted()
    ceiling = RESTRICTED_LIMIT if restricted else MAX_LIMIT
    asked = args.get("limit")
    if asked in (None, "", 0, "0"):
        return RESTRICTED_LIMIT if restricted else DEFAULT_LIMIT
    try:
        return max(1, min(int(str(asked)), ceiling))
    except ValueError:
        raise SlackError("invalid_limit") from None


def _cursor(position: int) -> str:
    return base64.b64encode(f"next_position:{position}".encode()).decode()


def _cursor_position(args: JSON) -> int:
    """Where a `cursor` from an earlier page continues; `invalid_cursor` otherwise."""
    cursor = opt_str(args, "cursor")
    if cursor is None:
        return 0
    try:
        label, _, position = base64.b64decode(cursor, validate=True).decode().partition(":")
        if label == "next_position" and position.isdigit():
            return int(position)
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise SlackError("invalid_cursor")


METHODS = {
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
}
