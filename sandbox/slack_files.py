"""The `files_upload_v2` flow: get an upload URL, POST the bytes, complete and share.

slack_sdk's `files_upload_v2` calls `files.getUploadURLExternal`, POSTs the raw bytes to
the returned URL, then `files.completeUploadExternal`; the sandbox serves all three so
the real client runs unmodified, and shares the file as a message in the channel/thread.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sandbox import slack_chat as chat
from sandbox.slack_common import SlackError, json_field, opt_str, require_str, split_ids
from sandbox.slack_models import Conversation, Message, StoredFile
from sandbox.slack_render_files import file_object
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]


def get_upload_url(state: SandboxState, args: JSON) -> JSON:
    """files.getUploadURLExternal: reserve a file id and a one-off upload URL on this server."""
    filename = require_str(args, "filename")
    length = require_str(args, "length")
    if not length.isdigit():
        raise SlackError("invalid_arguments", messages=["[ERROR] length must be an integer"])
    stored = StoredFile(
        id=state.new_id("F"),
        name=filename,
        title=filename,
        length=int(length),
        upload_secret=secrets.token_urlsafe(12),
        created=int(time.time()),
        alt_txt=opt_str(args, "alt_txt"),
        snippet_type=opt_str(args, "snippet_type"),
    )
    state.files[stored.id] = stored
    url = f"{state.base_url()}/upload/v1/{stored.id}/{stored.upload_secret}"
    return {"ok": True, "upload_url": url, "file_id": stored.id}


def receive_upload(state: SandboxState, file_id: str, secret: str, data: bytes) -> None:
    """Store the bytes POSTed to an upload URL (Slack answers `OK - <length>`)."""
    stored = state.files.get(file_id)
    if stored is None or stored.upload_secret != secret or stored.completed:
        raise SlackError("invalid_upload_url", status=404)
    stored.content = data


def complete_upload(state: SandboxState, args: JSON) -> JSON:
    """files.completeUploadExternal: finish uploads and share them in one message."""
    entries = json_field(args, "files", "invalid_arguments")
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments", messages=["[ERROR] missing required field: files"])
    files = [_uploaded(state, entry) for entry in entries]
    targets = split_ids(args.get("channels")) or split_ids(args.get("channel_id"))
    thread_ts = opt_str(args, "thread_ts")
    if thread_ts and len(targets) != 1:
        raise SlackError("invalid_arguments", messages=["[ERROR] thread_ts needs one channel_id"])
    comment = chat.checked_text({"text": args.get("initial_comment")})
    shares = []
    for target in targets:
        conv = chat.conversation_for(state, {"channel": target})
        chat.require_bot_in(state, conv)
        shares.append((conv, chat.resolve_thread(conv, thread_ts)))
    for f in files:
        f.completed = True
    for conv, parent in shares:
        _share(state, conv, files, comment or "", parent)
    return {"ok": True, "files": [file_object(state, f) for f in files]}


def _uploaded(state: SandboxState, entry: object) -> StoredFile:
    """A `{id, title}` entry naming a file whose bytes have arrived."""
    if not isinstance(entry, dict) or "id" not in entry:
        raise SlackError("invalid_arguments", messages=["[ERROR] each file needs an id"])
    stored = state.files.get(str(entry["id"]))
    if stored is None or stored.content is None:
        raise SlackError("file_not_found")
    if entry.get("title"):
        stored.title = str(entry["title"])
    return stored


def _share(
    state: SandboxState,
    conv: Conversation,
    files: list[StoredFile],
    comment: str,
    parent: str | None,
) -> None:
    """Post the share message Slack creates for completed uploads."""
    msg = Message(
        ts=state.new_ts(),
        user=state.settings.bot_user_id,
        text=comment,
        thread_ts=parent,
        file_ids=[f.id for f in files],
        source="files.completeUploadExternal",
    )
    for f in files:
        f.shares.append((conv.id, msg.ts, parent))
    chat.add_message(state, conv, msg)
    state.bump("file_shared", channel=conv.id, ts=msg.ts, files=msg.file_ids)


def files_info(state: SandboxState, args: JSON) -> JSON:
    """files.info: a file the app can see (uploaded by it, or into one of its modals)."""
    stored = state.files.get(require_str(args, "file"))
    if stored is None or stored.content is None or not visible_to_app(state, stored):
        raise SlackError("file_not_found")
    return {
        "ok": True,
        "file": file_object(state, stored),
        "comments": [],
        "response_metadata": {"next_cursor": ""},
    }


def download(state: SandboxState, ref: str) -> StoredFile:
    """A file by `<team>-<id>` (url_private) or bare id, once its bytes exist."""
    file_id = ref.split("-", 1)[1] if ref.startswith(state.settings.team_id + "-") else ref
    stored = state.files.get(file_id)
    if stored is None or stored.content is None:
        raise SlackError("file_not_found", status=404)
    return stored


def visible_to_app(state: SandboxState, stored: StoredFile) -> bool:
    """The app's own uploads, files submitted to it in a modal, and files shared in a
    conversation it is a member of."""
    if stored.user is None or stored.submitted_to_app:
        return True
    bot = state.settings.bot_user_id
    for channel_id, _ts, _thread in stored.shares:
        conv = state.conversations.get(channel_id)
        if conv is not None and bot in conv.members:
            return True
    return False


METHODS = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
    "files.info": files_info,
}
