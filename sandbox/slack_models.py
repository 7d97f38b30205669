"""The sandbox's stored Slack objects: messages, conversations, files, views, tokens.

Plain dataclasses with no behaviour; `SandboxState` holds them behind its lock and
`slack_render` turns them into Slack's JSON shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


@dataclass
class Stream:
    """A message streamed with chat.startStream/appendStream/stopStream, and its record.

    `segments` keeps the order content arrived in: `{"text": ...}`, `{"task": id}` or
    `{"blocks": [...]}`; `calls` records every start/append/stop with its arguments.
    """

    channel: str
    ts: str
    thread_ts: str
    display_mode: str
    started: float
    deadline: float
    recipient_user_id: str | None = None
    recipient_team_id: str | None = None
    state: str = "streaming"  # streaming, stopped, expired, stopped_by_user
    mode: str | None = None  # markdown_text or chunks, fixed by the first content
    segments: list[JSON] = field(default_factory=list)
    tasks: dict[str, JSON] = field(default_factory=dict)
    plan_title: str | None = None
    final_blocks: list[JSON] = field(default_factory=list)
    calls: list[JSON] = field(default_factory=list)
    ended: float | None = None


@dataclass
class AgentSession:
    """An agent session scoped to one thread, with every status it was given."""

    channel: str
    thread_ts: str
    status: str
    created: float
    title: str | None = None
    initiator_user_id: str | None = None
    history: list[JSON] = field(default_factory=list)


@dataclass
class Message:
    """A channel or thread message as stored; rendering happens in `slack_render`."""

    ts: str
    user: str
    text: str
    blocks: list[JSON] | None = None
    attachments: list[JSON] | None = None
    metadata: JSON | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    file_ids: list[str] = field(default_factory=list)
    edited: JSON | None = None
    source: str = "chat.postMessage"
    deleted: bool = False
    # emoji name -> who reacted, in order; Slack lists reactions in the order first added
    reactions: dict[str, list[str]] = field(default_factory=dict)
    stream: Stream | None = None
    client_msg_id: str | None = None  # set on what people type, never on the app's posts


@dataclass
class Ephemeral:
    """A message only `user` sees; Slack never lets the app read these back."""

    message_ts: str
    user: str
    text: str
    blocks: list[JSON] | None
    thread_ts: str | None
    source: str


@dataclass
class Conversation:
    """A channel, DM (`im`) or group DM (`mpim`) and everything posted in it."""

    id: str
    name: str
    kind: str
    is_private: bool
    members: set[str]
    created: int
    topic: str = ""
    purpose: str = ""
    im_user: str | None = None
    archived: bool = False
    creator: str = ""
    messages: dict[str, Message] = field(default_factory=dict)
    # thread_ts -> its replies' ts, so a card edit does not scan the whole channel
    replies: dict[str, list[str]] = field(default_factory=dict)
    ephemeral: dict[str, list[Ephemeral]] = field(default_factory=dict)


@dataclass
class StoredFile:
    """A file from the `files_upload_v2` flow (announced, uploaded, then shared), or one a
    person uploaded into a modal's `file_input` (`user` is then theirs, not the bot's, and
    the app may read it once the modal is submitted to it)."""

    id: str
    name: str
    title: str
    length: int
    upload_secret: str
    created: int
    alt_txt: str | None = None
    snippet_type: str | None = None
    content: bytes | None = None
    completed: bool = False
    shares: list[tuple[str, str, str | None]] = field(default_factory=list)
    user: str | None = None
    submitted_to_app: bool = False


@dataclass
class StoredView:
    """A modal or App Home view; `view` is the app's payload as last sent."""

    id: str
    user: str
    type: str
    view: JSON
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    external_id: str | None = None


@dataclass
class ResponseUrl:
    """A minted response_url: who it answers and which message it may replace."""

    token: str
    channel_id: str
    user_id: str
    message_ts: str | None
    created: float
    uses: int = 0
