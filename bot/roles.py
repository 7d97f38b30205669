"""Who may press what: requester, approvers and on-call, with user groups resolved and cached.

Group membership is served from the last good lookup: fresh for `ttl`, then re-read in
the background while the last answer is still served, for at most `stale_for`. A failed
lookup locks nobody out for long (it is retried on the next question, not cached), and a
person removed from a group loses the role within `stale_for` even while lookups fail.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.ids import ActionId
from bot.slack import call
from models.job import Job
from models.notifier import NotifyLater

log = logging.getLogger(__name__)

GROUP_TTL = 300.0  # user-group membership changes rarely; five minutes is fresh enough
STALE_FOR = 3600.0  # while lookups fail, the last good answer holds this long at most


@dataclass(frozen=True)
class Lookup:
    """A group's members and when they were read."""

    members: frozenset[str]
    at: float


class Roles:
    """Resolves ERRAND_APPROVERS / ERRAND_ONCALL (user IDs or `S…` group IDs) to users."""

    def __init__(
        self,
        client: WebClient,
        *,
        approvers: Iterable[str],
        oncall: Iterable[str],
        self_approval: bool = False,
        ttl: float = GROUP_TTL,
        stale_for: float = STALE_FOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._approvers = tuple(approvers)
        self._oncall = tuple(oncall)
        self.self_approval = self_approval
        self._ttl, self._stale_for = ttl, stale_for
        self._clock = clock
        self._lock = threading.Lock()
        self._groups: dict[str, Lookup] = {}
        self._refreshing: set[str] = set()

    def is_approver(self, user: str) -> bool:
        return user in self._members(self._approvers)

    def is_oncall(self, user: str) -> bool:
        return user in self._members(self._oncall)

    def may_manage_channel(self, user: str, channel: str) -> bool:
        """Who may set a channel's defaults: on-call, workspace admins and owners, and the
        channel's creator. Slack offers apps no cheap way to read a channel's managers, so
        its creator (conversations.info) stands in for them. A lookup Slack does not answer
        grants nothing."""
        if self.is_oncall(user):
            return True
        try:
            person = call(self._client.users_info, user=user).get("user") or {}
            if person.get("is_admin") or person.get("is_owner"):
                return True
            found = call(self._client.conversations_info, channel=channel).get("channel") or {}
        except (SlackApiError, NotifyLater) as exc:
            log.warning("channel manager unresolved", extra={"channel": channel, "error": str(exc)})
            return False
        return bool(found.get("creator")) and found.get("creator") == user

    def _members(self, entries: tuple[str, ...]) -> set[str]:
        users: set[str] = set()
        for entry in entries:
            users |= self._group(entry) if entry.startswith("S") else {entry}
        return users

    def _group(self, group_id: str) -> frozenset[str]:
        with self._lock:
            known = self._groups.get(group_id)
        age = self._clock() - known.at if known else None
        if known is None or age is None or age >= self._stale_for:
            return self._read(group_id) or frozenset()
        if age >= self._ttl:
            self._refresh_later(group_id)
        return known.members

    def _read(self, group_id: str) -> frozenset[str] | None:
        """Members from Slack, remembered; None when Slack did not answer."""
        try:
            reply = call(self._client.usergroups_users_list, usergroup=group_id)
        except (SlackApiError, NotifyLater) as exc:
            log.warning("user group unresolved", extra={"group": group_id, "error": str(exc)})
            return None
        members = frozenset(str(u) for u in reply.get("users") or [])
        with self._lock:
            self._groups[group_id] = Lookup(members, self._clock())
        return members

    def _refresh_later(self, group_id: str) -> None:
        with self._lock:
            if group_id in self._refreshing:
                return
            self._refreshing.add(group_id)

        def refresh() -> None:
            try:
                self._read(group_id)
            finally:
                with self._lock:
                    self._refreshing.discard(group_id)

        threading.Thread(target=refresh, name="errand-roles", daemon=True).start()


# Who may press each job button (besides approve and reject), and the refusal to others.
PRESSERS: dict[ActionId, tuple[frozenset[str], str]] = {
    ActionId.JOB_CANCEL: (
        frozenset({"requester", "oncall", "approver"}),
        "Only the person who asked, on-call or an approver can cancel this job.",
    ),
    ActionId.JOB_RETRY: (
        frozenset({"requester", "oncall"}),
        "Only the person who asked or on-call can start this job again.",
    ),
    ActionId.JOB_ARCHIVE: (
        frozenset({"requester", "oncall"}),
        "Only the person who asked or on-call can archive this job.",
    ),
    ActionId.JOB_ESCALATE: (
        frozenset({"requester"}),
        "Only the person who asked can escalate this job.",
    ),
}
PRESSERS[ActionId.JOB_REDRAFT] = PRESSERS[ActionId.JOB_RETRY]


def refusal(action: ActionId, job: Job, user: str, roles: Roles) -> str | None:
    """None when `user` may press `action` on `job`; otherwise the sentence telling them why."""
    requester = user == job.requested_by
    if action not in PRESSERS:
        return _decision_refusal(requester, roles.is_approver(user), roles.self_approval)
    allowed, sentence = PRESSERS[action]
    held = {
        "requester": requester,
        "oncall": "oncall" in allowed and roles.is_oncall(user),
        "approver": "approver" in allowed and roles.is_approver(user),
    }
    return None if any(held[role] for role in allowed) else sentence


def _decision_refusal(requester: bool, approver: bool, self_approval: bool) -> str | None:
    if not approver:
        return "Only approvers can approve or reject results."
    if requester and not self_approval:
        return "You asked for this job, so another approver has to decide on it."
    return None
