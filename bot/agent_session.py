"""The job's thread as a Slack agent session: its status, and Slack's own Stop button.

Where the app is declared an agent (`features.agent_view` in manifest.yml), Slack shows
each thread's session status and, while it is `processing`, a Stop button. The status
follows the job (`models.store.lifecycle.SESSION`): `processing` while it runs,
`suspended` while an approver has it, `active` once it ends, `closed` when it is
archived; each change is a notice, delivered in order with the job's news.

A workspace where Slack answers `not_authorized` (the app is not an agent there) or
`unknown_method` is remembered, and no worker calls there for a day: the card and its
buttons stay the way to follow and stop a job. Stop cancels the job exactly as the
card's Cancel button does (`bot.presses.Presses.stop`).
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.text import fit
from bot.budget import PREFIX, Budget
from bot.ids import CANNOT_POST, SlackErrorCode
from bot.presses import Presses
from bot.slack import call, error_code
from models.db import Database
from models.notifier import Milestone, Undeliverable
from models.store import queries

log = logging.getLogger(__name__)

NOT_AN_AGENT_FOR = 86_400  # a workspace without agent sessions is asked again a day later
TITLE_MAX = 200  # Slack's limit for a session's title
# Answers that mean "no sessions here": the app is not an agent, or Slack has no such method.
UNSUPPORTED = frozenset({SlackErrorCode.NOT_AUTHORIZED, SlackErrorCode.UNKNOWN_METHOD})
# Answers that leave nothing to do for this one thread.
SETTLED = frozenset(
    {SlackErrorCode.THREAD_NOT_FOUND, SlackErrorCode.MESSAGE_NOT_FOUND, *CANNOT_POST}
)

Body = dict[str, Any]


class AgentStatus:
    """Sets a job thread's agent-session status (the notifier's side)."""

    def __init__(self, client: WebClient, budget: Budget) -> None:
        self.client = client
        self.budget = budget

    def set(self, milestone: Milestone, title: str) -> None:
        """The notice's status on the job's thread; skipped where sessions do not exist."""
        job, status = milestone.job, str(milestone.detail.get("status") or "")
        channel, thread = job.channel_id, job.thread_ts
        if not channel or not thread or not status or self.budget.is_lost(channel):
            return
        if self.unsupported(job.team_id):
            return
        try:
            call(
                self.client.agents_sessions_setStatus,
                budget=self.budget,
                channel_id=channel,
                thread_ts=thread,
                status=status,
                title=fit(f"{title}: {job.input_text}", TITLE_MAX),
            )
        except SlackApiError as exc:
            self._refused(job.id, job.team_id, error_code(exc))

    def _refused(self, job_id: str, team: str | None, code: str) -> None:
        extra = {"job_id": job_id, "error": code}
        if code in UNSUPPORTED:
            self._remember(team)
            log.info("no agent sessions in this workspace; the card carries on", extra=extra)
        elif code in SETTLED:
            log.info("agent status left as it is", extra=extra)
        else:
            raise Undeliverable(f"the agent status could not be set: {code}")

    def unsupported(self, team: str | None) -> bool:
        try:
            return bool(self.budget.redis.exists(_key(team)))
        except RedisError:
            return False

    def _remember(self, team: str | None) -> None:
        try:
            self.budget.redis.set(_key(team), "1", ex=NOT_AN_AGENT_FOR)
        except RedisError:
            log.warning("workspace without agent sessions not remembered")


def _key(team: str | None) -> str:
    return f"{PREFIX}:no_agent:{team or '-'}"


class AgentStop:
    """`agent_session_stopped`: a person pressed Slack's Stop in a job's thread."""

    def __init__(self, db: Database, presses: Presses) -> None:
        self.db = db
        self.presses = presses

    def stopped(self, event: Body, client: WebClient) -> None:
        """Cancel the thread's job under the Cancel button's rules; tell the person."""
        channel, thread, user = event.get("channel"), event.get("thread_ts"), event.get("user")
        if not (channel and thread and user):
            return
        job = queries.in_thread(self.db, str(channel), str(thread))
        if job is None:
            log.info("Stop in a thread with no job", extra={"channel": channel})
            return
        answer = self.presses.stop(job, str(user))
        try:
            call(
                client.chat_postEphemeral,
                channel=channel,
                user=user,
                thread_ts=thread,
                text=answer,
            )
        except Exception:  # the card shows what happened either way
            log.warning("could not answer a Stop", extra={"job_id": job.id}, exc_info=True)
