"""Files as Slack describes them: the file object of `files.info`, message `files` and
`file_input` submissions, with `url_private` links back to this server."""

from __future__ import annotations

import mimetypes
from typing import Any

from sandbox.slack_models import StoredFile
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]


def file_object(state: SandboxState, f: StoredFile) -> JSON:
    """A file object as `files.completeUploadExternal` and message `files` carry it."""
    s, base = state.settings, state.base_url()
    owner = f.user or s.bot_user_id
    shares: dict[str, list[JSON]] = {}
    for channel_id, ts, thread_ts in f.shares:
        entry: JSON = {"ts": ts, "share_user_id": s.bot_user_id, "team_id": s.team_id}
        if thread_ts:
            entry["thread_ts"] = thread_ts
        shares.setdefault(channel_id, []).append(entry)
    return {
        "id": f.id,
        "created": f.created,
        "timestamp": f.created,
        "name": f.name,
        "title": f.title,
        "mimetype": _mimetype(f.name),
        "filetype": f.snippet_type or _filetype(f.name),
        "pretty_type": (f.snippet_type or _filetype(f.name)).upper(),
        "user": owner,
        "user_team": s.team_id,
        "size": len(f.content or b""),
        "mode": "hosted",
        "is_external": False,
        "is_public": any(not _private(state, c) for c in shares),
        "alt_txt": f.alt_txt,
        "url_private": f"{base}/files-pri/{s.team_id}-{f.id}/{f.name}",
        "url_private_download": f"{base}/files-pri/{s.team_id}-{f.id}/download/{f.name}",
        "permalink": f"https://{s.team_domain}.slack.com/files/{owner}/{f.id}/{f.name}",
        "channels": [c for c in shares if c.startswith("C")],
        "groups": [c for c in shares if c.startswith("G")],
        "ims": [c for c in shares if c.startswith("D")],
        "shares": {"public": shares} if shares else {},
    }


def _private(state: SandboxState, channel_id: str) -> bool:
    conv = state.conversations.get(channel_id)
    return conv is None or conv.is_private


def _filetype(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else "text"


def _mimetype(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
