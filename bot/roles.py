"""Who may press what: requester, approvers and on-call, with user groups resolved and cached."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.ids import ActionId
from bot.slack import call
from models.job import Job
from models.notifier import NotifyLater

log = logging.getLogger(__name__)

GROUP_TTL = 300.0  # user-group membership changes rarely; five minutes is fresh enough


class Roles:
    """Resolves ERRAND_APPROVERS / ERRAND_ONCALL (user IDs or `S…` group IDs) to users."""

    def __init__(
        self,
        client: WebClient,
        *,
        approvers: Iterable[str],
        oncall: Iterable[str],
        ttl: float = GROUP_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._approvers = tuple(approvers)
        self._oncall = tuple(oncall)
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    def is_approver(self, user: str) -> bool:
        return user in self._members(self._approvers)

    def is_oncall(self, user: str) -> bool:
        return user in self._members(self._oncall)

    def _members(self, entries: tuple[str, ...]) -> set[str]:
        users: set[str] = set()
        for entry in entries:
            users |= self._group(entry) if entry.startswith("S") else {entry}
        return users

    def _group(self, group_id: str) -> frozenset[str]:
        with self._lock:
            cached = self._groups.get(group_id)
        if cached and cached[0] > self._clock():
            return cached[1]
        members = self._fetch(group_id, cached[1] if cached else frozenset())
        with self._lock:
            self._groups[group_id] = (self._clock() + self._ttl, members)
        return members

    def _fetch(self, group_id: str, stale: frozenset[str]) -> frozenset[str]:
        """Members from Slack; on failure the last known list (or nobody: fail closed)."""
        try:
            reply = call(self._client.usergroups_users_list, usergroup=group_id)
        except (SlackApiError, NotifyLater) as exc:
            log.warning("user group unresolved", extra={"group": group_id, "error": str(exc)})
            return stale
        return frozenset(str(u) for u in reply.get("users") or [])


def refusal(action: ActionId, job: Job, user: str, roles: Roles) -> str | None:
    """None when `user` may press `action` on `job`; otherwise the sentence telling them why."""
    requester = user == job.requested_by
    if action == ActionId.JOB_CANCEL:
        if requester or roles.is_oncall(user) or roles.is_approver(user):
            return None
        return "Only the person who asked, on-call or an approver can cancel this job."
    if action == ActionId.JOB_RETRY:
        if requester or roles.is_oncall(user):
            return None
        return "Only the person who asked or on-call can retry this job."
    if roles.is_approver(user):
        return None
    return "Only approvers can approve or reject results."
