"""Agent sessions: `agents.sessions.setStatus` and the status each thread's session has.

Only an app declared as an agent may create sessions (the `agent` setting; otherwise
`not_authorized`). A session belongs to one thread and moves between `processing`,
`active`, `suspended` and `closed`; while it is `processing` Slack shows a Stop button,
and a click sends `agent_session_stopped` (see `slack_people`). The session's status
never changes by itself: the app must move it on.
"""

from __future__ import annotations

import time
from typing import Any

from sandbox.slack_chat import conversation_for, require_bot_in, resolve_thread
from sandbox.slack_common import SlackError, opt_str, require_str
from sandbox.slack_models import AgentSession
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
STATUSES = ("active", "processing", "suspended", "closed")
TITLE_MAX = 200
NO_STOP_SUBSCRIPTION = "missing_agent_session_stopped_event_subscription"


def set_status(state: SandboxState, args: JSON) -> JSON:
    """agents.sessions.setStatus: create the thread's session if needed, set its status."""
    require_agent(state)
    status = checked_status(require_str(args, "status"))
    conv = conversation_for(state, args, "channel_id")
    require_bot_in(state, conv)
    root = resolve_thread(conv, require_str(args, "thread_ts")) or ""
    title = opt_str(args, "title")
    if title is not None and len(title) > TITLE_MAX:
        raise SlackError("invalid_arguments", messages=["[ERROR] title is over 200 characters"])
    initiator = opt_str(args, "initiator_user_id")
    if initiator is not None and initiator not in conv.members:
        raise SlackError("user_not_in_channel")
    session = record_status(state, conv.id, root, status, title=title, initiator=initiator)
    body: JSON = {"ok": True, "status": session.status, "title": session.title}
    if "agent_session_stopped" not in state.config.bot_events:
        body["warning"] = NO_STOP_SUBSCRIPTION
        body["response_metadata"] = {"warnings": [NO_STOP_SUBSCRIPTION]}
    return body


def require_agent(state: SandboxState) -> None:
    """Apps not declared as agents cannot touch sessions."""
    if not state.config.agent:
        raise SlackError("not_authorized")


def checked_status(status: str) -> str:
    if status not in STATUSES:
        raise SlackError(
            "invalid_arguments", messages=[f"[ERROR] status must be one of {', '.join(STATUSES)}"]
        )
    return status


def record_status(
    state: SandboxState,
    channel: str,
    thread_ts: str,
    status: str,
    *,
    title: str | None = None,
    initiator: str | None = None,
    by: str = "agents.sessions.setStatus",
) -> AgentSession:
    """Set a session's status (title and initiator count only when it is created)."""
    key = (channel, thread_ts)
    session = state.agent_sessions.get(key)
    if session is None:
        session = AgentSession(channel, thread_ts, status, time.time(), title, initiator)
        state.agent_sessions[key] = session
    session.status = status
    session.history.append({"status": status, "at": time.time(), "by": by})
    state.bump("agent_session_changed", channel=channel, thread_ts=thread_ts, status=status)
    return session


def session_state(session: AgentSession) -> JSON:
    """A session for `/_sandbox/agent_sessions` and the page."""
    return {
        "channel": session.channel,
        "thread_ts": session.thread_ts,
        "status": session.status,
        "title": session.title,
        "initiator_user_id": session.initiator_user_id,
        "created": session.created,
        "history": list(session.history),
    }


METHODS = {"agents.sessions.setStatus": set_status}
