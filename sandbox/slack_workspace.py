"""The seeded Slack workspace of the sandbox: who exists, which channels, which groups.

Kept apart from the mutable state so a test can build its own `SlackSandboxSettings`
(extra users, a channel without the bot, ...) and get the same shape every reset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.slack_config import RuntimeSettings

JSON = dict[str, Any]


@dataclass(frozen=True)
class SandboxUser:
    """A workspace member as `users.info` describes it."""

    id: str
    name: str
    real_name: str
    is_bot: bool = False
    email: str | None = None
    tz: str = "Europe/London"
    is_admin: bool = False

    @classmethod
    def from_json(cls, data: JSON) -> SandboxUser:
        """Build from a control-API body, where only `id` is mandatory."""
        user_id = str(data["id"])
        return cls(
            id=user_id,
            name=str(data.get("name") or user_id.lower()),
            real_name=str(data.get("real_name") or data.get("name") or user_id),
            is_bot=bool(data.get("is_bot", False)),
            email=data.get("email"),
            tz=str(data.get("tz") or "Europe/London"),
            is_admin=bool(data.get("is_admin", False)),
        )


@dataclass(frozen=True)
class SandboxChannel:
    """A public or private channel; `members=None` means every seeded human user."""

    id: str
    name: str
    bot_is_member: bool = True
    is_private: bool = False
    members: tuple[str, ...] | None = None
    topic: str = ""
    purpose: str = ""
    creator: str = ""  # the member who made it, as conversations.info reports

    @classmethod
    def from_json(cls, data: JSON) -> SandboxChannel:
        """Build from a control-API body, where `id` and `name` are mandatory."""
        members = data.get("members")
        return cls(
            id=str(data["id"]),
            name=str(data["name"]).lstrip("#"),
            bot_is_member=bool(data.get("bot_is_member", True)),
            is_private=bool(data.get("is_private", False)),
            members=tuple(str(m) for m in members) if members is not None else None,
            topic=str(data.get("topic", "")),
            purpose=str(data.get("purpose", "")),
            creator=str(data.get("creator", "")),
        )


@dataclass(frozen=True)
class SandboxUsergroup:
    """A user group (`@handle`) whose members `usergroups.users.list` returns."""

    id: str
    handle: str
    name: str
    users: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: JSON) -> SandboxUsergroup:
        """Build from a control-API body, where `id` and `handle` are mandatory."""
        handle = str(data["handle"]).lstrip("@")
        return cls(
            id=str(data["id"]),
            handle=handle,
            name=str(data.get("name") or handle),
            users=tuple(str(u) for u in data.get("users", ())),
        )


DEFAULT_USERS: tuple[SandboxUser, ...] = (
    SandboxUser("U_REQUESTER", "riley", "Riley Requester", email="riley@example.com"),
    SandboxUser("U_APPROVER", "avery", "Avery Approver", email="avery@example.com"),
    SandboxUser("U_ONCALL", "oli", "Oli On-call", email="oli@example.com"),
    SandboxUser("U_OTHER", "sam", "Sam Someone", email="sam@example.com"),
)

DEFAULT_CHANNELS: tuple[SandboxChannel, ...] = (
    SandboxChannel(
        "C_GENERAL", "general", purpose="Company-wide announcements", creator="U_REQUESTER"
    ),
    SandboxChannel("C_APPROVALS", "approvals", purpose="Errand approval requests"),
    SandboxChannel("C_ONCALL", "oncall", purpose="Errand on-call controls"),
    SandboxChannel("C_NOBOT", "no-bot", bot_is_member=False, purpose="The bot is not here"),
)

DEFAULT_USERGROUPS: tuple[SandboxUsergroup, ...] = (
    SandboxUsergroup("S_APPROVERS", "approvers", "Approvers", ("U_APPROVER",)),
    SandboxUsergroup("S_ONCALL", "oncall", "On-call", ("U_ONCALL",)),
)


@dataclass(frozen=True)
class SlackSandboxSettings:
    """Everything a test may want to change about the fake workspace and its server.

    `accepted_tokens` empty means any `xoxb-` token is valid, so the real client works
    with whatever dummy token a test uses; list tokens to test `invalid_auth`.
    """

    team_id: str = "T0SANDBOX"
    team_name: str = "Errand Sandbox"
    team_domain: str = "errand-sandbox"
    bot_user_id: str = "U_BOT"
    bot_name: str = "errand"
    bot_real_name: str = "Errand"
    bot_id: str = "B_ERRAND"
    app_id: str = "A_ERRAND"
    users: tuple[SandboxUser, ...] = DEFAULT_USERS
    channels: tuple[SandboxChannel, ...] = DEFAULT_CHANNELS
    usergroups: tuple[SandboxUsergroup, ...] = DEFAULT_USERGROUPS
    accepted_tokens: frozenset[str] = field(default_factory=frozenset)
    public_url: str | None = None
    max_events: int = 2000
    max_long_poll_seconds: float = 30.0
    response_url_max_uses: int = 5
    strict_trigger_ids: bool = False
    trigger_ttl_seconds: float = 3.0
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)

    def bot_user(self) -> SandboxUser:
        """The app's bot user, listed like any other member."""
        return SandboxUser(self.bot_user_id, self.bot_name, self.bot_real_name, is_bot=True)

    def token_is_valid(self, token: str) -> bool:
        """Mirror Slack's check closely enough: a listed token, or any bot token."""
        if self.accepted_tokens:
            return token in self.accepted_tokens
        return token.startswith("xoxb-")
