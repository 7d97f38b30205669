"""What people do in Slack besides pressing buttons: write (and mention the app), pick a
message shortcut, press Stop on an agent session, and upload a file into a modal.

Each is stored as Slack would store it and then sent to the app as Slack sends it:
a message becomes `message` and (when it mentions the app in a channel the app is in)
`app_mention` events, but only for the event types the app subscribes to
(`bot_events`); a shortcut is a `message_action`; Stop stops the thread's streams and
sends `agent_session_stopped`.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

from sandbox import slack_chat, slack_streams
from sandbox import slack_delivery as delivery
from sandbox import slack_payloads as payloads
from sandbox import slack_render as render
from sandbox import slack_signing as signing
from sandbox.slack_common import SlackError
from sandbox.slack_delivery import ClientError, Sent
from sandbox.slack_models import Conversation, Message, StoredFile
from sandbox.slack_render_files import file_object
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
FILE_INPUT_MAX_BYTES = 10 * 1024 * 1024  # "There is a 10MB file size limit."
FILE_INPUT_MAX_FILES = 10
MESSAGE_SUBSCRIPTIONS = {"im": "message.im", "mpim": "message.mpim"}


def post_message(
    state: SandboxState, user: str, channel: str, text: str, thread_ts: str | None = None
) -> JSON:
    """A person's message (a reply when `thread_ts`), and the events it triggers."""
    with state.lock:
        conv = _writable(state, user, channel)
        try:
            root = slack_chat.resolve_thread(conv, thread_ts)
        except SlackError as exc:
            raise ClientError("that thread is gone") from exc
        msg = Message(
            ts=state.new_ts(),
            user=user,
            text=text,
            blocks=payloads.rich_text(text),
            thread_ts=root,
            source="user",
            client_msg_id=str(uuid.uuid4()),
        )
        slack_chat.add_message(state, conv, msg)
        bodies = _events_for(state, conv, msg)
    sent = [(kind, delivery.post_event(state, body).status_code) for kind, body in bodies]
    return {"ok": True, "ts": msg.ts, "deliveries": [{"type": k, "status": s} for k, s in sent]}


def _writable(state: SandboxState, user: str, channel: str) -> Conversation:
    conv = state.conversations.get(channel)
    if conv is None:
        raise ClientError(f"no channel {channel}")
    if conv.archived:
        raise ClientError("this channel is archived")
    if user not in conv.members:
        raise ClientError("you are not a member of this channel")
    return conv


def _events_for(state: SandboxState, conv: Conversation, msg: Message) -> list[tuple[str, bytes]]:
    """Only where the app is a member: `message.*` if subscribed, `app_mention` if named."""
    config, s = state.config, state.settings
    if s.bot_user_id not in conv.members:
        return []
    events: list[JSON] = []
    private = "message.groups" if conv.is_private else "message.channels"
    if MESSAGE_SUBSCRIPTIONS.get(conv.kind, private) in config.bot_events:
        events.append(payloads.message_event(conv, msg, s.team_id))
    mentioned = f"<@{s.bot_user_id}>" in msg.text
    if mentioned and conv.kind != "im" and "app_mention" in config.bot_events:
        events.append(payloads.app_mention_event(conv, msg, s.team_id))
    return [(e["type"], _envelope(state, e)) for e in events]


def _envelope(state: SandboxState, event: JSON) -> bytes:
    s = state.settings
    return signing.event_callback_body(
        event, team_id=s.team_id, api_app_id=s.app_id, bot_user_id=s.bot_user_id
    )


def shortcut(
    state: SandboxState, user: str, channel: str, ts: str, callback_id: str | None = None
) -> Sent:
    """A message shortcut picked from a message's menu (the first configured by default)."""
    with state.lock:
        known = [sc.callback_id for sc in state.config.message_shortcuts]
        chosen = callback_id or (known[0] if known else "")
        if chosen not in known:
            raise ClientError(f"the app has no message shortcut {chosen!r}")
        conv = state.conversations.get(channel)
        msg = conv.messages.get(ts) if conv else None
        if conv is None or msg is None or msg.deleted:
            raise ClientError("that message is gone")
        payload = payloads.message_action_payload(
            chosen,
            user,
            conv,
            render.message(state, conv, msg),
            state.new_trigger_id(user),
            state.new_response_url(channel, user, ts),
            {"id": state.settings.team_id, "domain": state.settings.team_domain},
        )
    body = signing.interactivity_body(payload)
    return Sent(delivery.post_form(state, body, "message_action").status_code)


def stop_session(state: SandboxState, user: str, channel: str, thread_ts: str) -> JSON:
    """Stop on a processing agent session: Slack stops the thread's streams, tells the app."""
    with state.lock:
        session = state.agent_sessions.get((channel, thread_ts))
        if session is None or session.status != "processing":
            raise ClientError("no agent session is processing in that thread")
        if "agent_session_stopped" not in state.config.bot_events:
            raise ClientError("the app does not subscribe to agent_session_stopped")
        stopped = slack_streams.stop_for_user(state, channel, thread_ts)
        event = payloads.agent_session_stopped_event(channel, thread_ts, user, stopped)
        body = _envelope(state, event)
    status = delivery.post_event(state, body).status_code
    return {"ok": status == 200, "status": status, "streaming_message_ts": stopped}


def upload_file(state: SandboxState, user: str, name: str, content: bytes) -> JSON:
    """A file a person picked in a modal's `file_input`, stored until the modal is submitted."""
    if len(content) > FILE_INPUT_MAX_BYTES:
        raise ClientError("Slack takes files of at most 10 MB here")
    with state.lock:
        if user not in state.users:
            raise ClientError(f"no user {user}")
        stored = StoredFile(
            id=state.new_id("F"),
            name=name,
            title=name,
            length=len(content),
            upload_secret=secrets.token_urlsafe(12),
            created=int(time.time()),
            content=content,
            completed=True,
            user=user,
        )
        state.files[stored.id] = stored
        state.bump("file_uploaded", file=stored.id, user=user)
        return {"ok": True, "file": file_object(state, stored)}


def submitted_files(state: SandboxState, user: str, element: JSON, ids: object) -> list[JSON]:
    """The file objects a `file_input` submits; what Slack's client would not allow is refused."""
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ClientError("a file input takes a list of file ids")
    if len(ids) > int(element.get("max_files") or FILE_INPUT_MAX_FILES):
        raise ClientError(f"this field takes at most {element.get('max_files')} files")
    allowed = {t.lower().lstrip(".") for t in element.get("filetypes") or []}
    found = []
    for file_id in ids:
        stored = state.files.get(file_id)
        if stored is None or stored.user != user:
            raise ClientError(f"{file_id} is not a file you uploaded")
        extension = stored.name.rsplit(".", 1)[-1].lower() if "." in stored.name else ""
        if allowed and extension not in allowed:
            raise ClientError(f"{stored.name}: this field takes {', '.join(sorted(allowed))}")
        stored.submitted_to_app = True  # the app may read it from now on, as in Slack
        found.append(file_object(state, stored))
    return found
