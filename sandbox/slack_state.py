"""The sandbox's in-memory Slack: conversations, messages, files, views, calls, events.

One `SandboxState` per Flask app. Every reader and writer holds `state.lock`; each
change bumps `version` and appends to an event log, and `changed` (a condition on the
same lock) wakes long-polling pages so a fake Slack client can refresh promptly.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
import threading
import time
from collections import Counter, deque
from typing import Any

from sandbox.slack_config import RuntimeSettings
from sandbox.slack_faults import FaultPlan
from sandbox.slack_limits import RateLimiter
from sandbox.slack_models import (
    AgentSession,
    Conversation,
    ResponseUrl,
    StoredFile,
    StoredView,
    Stream,
)
from sandbox.slack_workspace import (
    SandboxChannel,
    SandboxUser,
    SandboxUsergroup,
    SlackSandboxSettings,
)

JSON = dict[str, Any]


class SandboxState:
    """All mutable sandbox data behind one re-entrant lock."""

    def __init__(self, settings: SlackSandboxSettings) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.version = 0
        self.public_url: str | None = settings.public_url
        self._ids = itertools.count(1)
        self._last_ts_us = 0
        self.faults = FaultPlan()
        self.limits = RateLimiter()
        self.events: deque[JSON] = deque(maxlen=settings.max_events)
        self._seed()

    # -- lifecycle -------------------------------------------------------------------

    def _seed(self) -> None:
        """(Re)build the workspace from settings and forget everything that happened."""
        s = self.settings
        self.users: dict[str, SandboxUser] = {u.id: u for u in (*s.users, s.bot_user())}
        self.usergroups: dict[str, SandboxUsergroup] = {g.id: g for g in s.usergroups}
        self.conversations: dict[str, Conversation] = {}
        for channel in s.channels:
            self.upsert_channel(channel)
        self.dms: dict[tuple[str, ...], str] = {}
        self.files: dict[str, StoredFile] = {}
        self.views: dict[str, StoredView] = {}
        self.home_views: dict[str, str] = {}
        self.modal_stacks: dict[str, list[str]] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.triggers: dict[str, tuple[str, float]] = {}
        self.streams: list[Stream] = []
        self.deliveries: list[JSON] = []
        self.agent_sessions: dict[tuple[str, str], AgentSession] = {}
        self.calls: list[JSON] = []
        self.call_counts: Counter[str] = Counter()
        self.ratelimited: Counter[str] = Counter()
        self.faults.clear()
        self.limits.clear()
        self.config: RuntimeSettings = s.runtime

    def reset(self) -> None:
        """Back to the seeded workspace; `version` keeps growing so pages notice."""
        with self.lock:
            self._seed()
            self.bump("reset")

    def configure(self, patch: JSON, *, keep_on_reset: bool = False) -> RuntimeSettings:
        """Flip runtime switches (rate limits, streaming, ...) until the next reset, or for
        good with `keep_on_reset` (the page server's request URL and signing secret)."""
        with self.lock:
            self.config = self.config.patched(patch)
            if keep_on_reset:
                runtime = self.settings.runtime.patched(patch)
                self.settings = dataclasses.replace(self.settings, runtime=runtime)
            self.bump("settings_changed", keys=sorted(patch))
            return self.config

    # -- ids and clocks ------------------------------------------------------------

    def new_ts(self) -> str:
        """A Slack-style `seconds.micros` ts, strictly increasing so ts order is post order."""
        with self.lock:
            now_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
            self._last_ts_us = now_us
            return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        """Upper-case ids like Slack's (`D0000001`, `F0000002`, `V0000003`)."""
        return f"{prefix}{next(self._ids):07d}"

    def base_url(self) -> str:
        """Where this server is reachable, for upload, download and response URLs."""
        return (self.public_url or "http://127.0.0.1").rstrip("/")

    # -- change feed ---------------------------------------------------------------

    def bump(self, kind: str, **info: Any) -> int:
        """Record one change, advance `version` and wake every long-poller."""
        with self.lock:
            self.version += 1
            self.events.append({"version": self.version, "kind": kind, "at": time.time(), **info})
            self.changed.notify_all()
            return self.version

    def events_since(self, since: int) -> JSON:
        """Events after `since`; `truncated` says older ones were dropped, so reload all."""
        with self.lock:
            events = [e for e in self.events if e["version"] > since]
            oldest = self.events[0]["version"] if self.events else self.version + 1
            truncated = bool(self.events) and since + 1 < oldest
            return {"ok": True, "version": self.version, "events": events, "truncated": truncated}

    def wait_for_change(self, since: int, timeout: float) -> None:
        """Block (releasing the lock) until `version > since` or the timeout passes."""
        with self.changed:
            self.changed.wait_for(lambda: self.version > since, timeout=max(0.0, timeout))

    def record_call(self, method: str, args: JSON, status: int, body: JSON) -> None:
        """Remember a call in arrival order for `GET /_sandbox/calls`."""
        with self.lock:
            self.call_counts[method] += 1
            if status == 429:
                self.ratelimited[method] += 1
            self.calls.append(
                {
                    "seq": len(self.calls) + 1,
                    "method": method,
                    "args": args,
                    "ok": bool(body.get("ok")),
                    "error": body.get("error"),
                    "status": status,
                    "at": time.time(),
                }
            )

    def stats(self) -> JSON:
        """Calls and 429 answers per method since the last reset."""
        with self.lock:
            return {
                "ok": True,
                "calls": dict(self.call_counts),
                "ratelimited": dict(self.ratelimited),
                "ratelimited_total": sum(self.ratelimited.values()),
            }

    # -- workspace -----------------------------------------------------------------

    def upsert_channel(self, channel: SandboxChannel) -> Conversation:
        """Add or redefine a channel; its messages survive a redefinition."""
        with self.lock:
            humans = [u for u in self.users.values() if not u.is_bot]
            members = set(
                channel.members if channel.members is not None else (u.id for u in humans)
            )
            if channel.bot_is_member:
                members.add(self.settings.bot_user_id)
            else:
                members.discard(self.settings.bot_user_id)
            old = self.conversations.get(channel.id)
            conv = Conversation(
                id=channel.id,
                name=channel.name,
                kind="channel",
                is_private=channel.is_private,
                members=members,
                created=old.created if old else int(time.time()),
                topic=channel.topic,
                purpose=channel.purpose,
                creator=channel.creator,
                messages=old.messages if old else {},
                ephemeral=old.ephemeral if old else {},
            )
            self.conversations[channel.id] = conv
            return conv

    def find_conversation(self, ref: str) -> Conversation | None:
        """By id, by `#name`/`name`, or by user id (the app's DM with that user)."""
        with self.lock:
            if ref in self.conversations:
                return self.conversations[ref]
            name = ref.lstrip("#")
            for conv in self.conversations.values():
                if conv.kind == "channel" and conv.name == name:
                    return conv
            if ref in self.users and not self.users[ref].is_bot:
                return self.open_dm([ref])[0]
            return None

    def channel_key(self, ref: str) -> str:
        """The id a channel argument names, without opening a DM (rate limits key on it)."""
        with self.lock:
            name = ref.lstrip("#")
            for conv in self.conversations.values():
                if ref == conv.id or (conv.kind == "channel" and conv.name == name):
                    return conv.id
            return self.dms.get((ref,), ref)

    def open_dm(self, user_ids: list[str]) -> tuple[Conversation, bool]:
        """The app's DM (one user) or group DM (several); `True` if it already existed."""
        with self.lock:
            key = tuple(sorted(set(user_ids)))
            existing = self.dms.get(key)
            if existing is not None:
                return self.conversations[existing], True
            single = len(key) == 1
            conv = Conversation(
                id=self.new_id("D" if single else "G"),
                name=key[0] if single else "mpdm-" + "--".join(key),
                kind="im" if single else "mpim",
                is_private=True,
                members={*key, self.settings.bot_user_id},
                created=int(time.time()),
                im_user=key[0] if single else None,
            )
            self.conversations[conv.id] = conv
            self.dms[key] = conv.id
            self.bump("channel_created", channel=conv.id)
            return conv, False

    def set_member(self, channel_id: str, user_id: str, present: bool) -> None:
        """Join or leave a user (usually the bot) to exercise `not_in_channel` paths."""
        with self.lock:
            conv = self.conversations[channel_id]
            if present:
                conv.members.add(user_id)
            else:
                conv.members.discard(user_id)
            self.bump("members_changed", channel=channel_id, user=user_id, member=present)

    # -- interactivity tokens ------------------------------------------------------

    def new_response_url(self, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        """Mint a response_url for a slash command or button press by `user_id`.

        With `message_ts` (the message holding the button) `replace_original` and
        `delete_original` act on that message, as they do in Slack.
        """
        with self.lock:
            token = secrets.token_urlsafe(12)
            self.response_urls[token] = ResponseUrl(
                token, channel_id, user_id, message_ts, time.time()
            )
            return f"{self.base_url()}/_sandbox/response_url/{token}"

    def new_trigger_id(self, user_id: str) -> str:
        """Mint a trigger_id shaped like Slack's, remembering whose click it was."""
        with self.lock:
            serial = next(self._ids)
            trigger = f"{int(time.time())}.{serial:09d}.{secrets.token_hex(16)}"
            self.triggers[trigger] = (user_id, time.time())
            return trigger
