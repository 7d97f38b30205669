"""SlackNotifier: the worker's voice in Slack (status card, thread, review, on-call).

It satisfies `models.notifier.Notifier`. Each milestone is delivered by rendering the
job as it is now, so a late or repeated delivery still shows the truth:
* `queued` posts the job's card in the channel (its thread is the job's) or the thread asked in;
* `card` edits the card, within Slack's budget for `chat.update` (Tier 3);
* news (started, results, failures, decisions) goes in the thread (`bot.poster`);
* alerts go to the on-call channel;
* reactions mark the message that asked (`bot.reactions`);
* the thread's agent-session status follows the job (`bot.agent_session`).
Slack trouble raises `NotifyLater` (tried again later) or `Undeliverable` (given up,
shown to operators); when the job's channel is gone, the job moves to a DM.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from redis import Redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.agent_session import AgentStatus
from bot.blocks import thread
from bot.blocks.card import card
from bot.blocks.oncall import oncall_alert
from bot.blocks.people import actor
from bot.budget import Budget
from bot.ids import CANNOT_POST, SlackErrorCode
from bot.news import News
from bot.permalinks import Permalinks
from bot.poster import ChannelGone, card_posted, job_metadata
from bot.reactions import react
from bot.slack import call, error_code, make_client
from models.base import utcnow
from models.job import Job
from models.kinds import KindsConfig
from models.notifier import (
    AGENT_STATUS,
    ALERTS,
    CARD,
    MARKS,
    REACTION,
    UNCERTAIN,
    Milestone,
    NotifyLater,
    Undeliverable,
)
from models.settings import Settings, require

log = logging.getLogger(__name__)

Fields = dict[str, Any]
# The Slack method each coalesced notice spends (`models.store.notice.claim_newest`).
SPENDS = {CARD: "chat.update", AGENT_STATUS: "agents.sessions.setStatus"}
Before = Callable[[], None] | None  # records that a post goes out (`bot.slack.call`)


class SlackNotifier:
    """Posts and edits each job's card and thread; see the module docstring."""

    def __init__(
        self,
        client: WebClient,
        *,
        kinds: KindsConfig,
        budget: Budget,
        approvals_channel: str | None = None,
        oncall_channel: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        stream_seconds: float = 270.0,
    ) -> None:
        self.client = client
        self.kinds = kinds
        self.budget = budget
        self.oncall_channel = oncall_channel
        self.clock = clock
        self._dms: dict[str, str] = {}
        self.sessions = AgentStatus(client, budget)
        self.links = Permalinks(client, budget)
        self.news = News(
            client,
            budget,
            approvals=approvals_channel,
            title=self.title,
            streams_for=self.streams_for,
            alert=self.alert,
            clock=clock,
            dm=self._dm,
            stream_seconds=stream_seconds,
        )

    @classmethod
    def from_settings(cls, settings: Settings, kinds: KindsConfig, redis: Redis) -> SlackNotifier:
        token = require(settings.slack_bot_token, "SLACK_BOT_TOKEN", "Errand posts to Slack")
        return cls(
            make_client(token, settings.slack_api_url, patient=False),
            kinds=kinds,
            budget=Budget(redis),
            approvals_channel=settings.approvals_channel,
            oncall_channel=settings.oncall_channel,
            stream_seconds=settings.slack_stream_seconds,
        )

    def notify(self, milestone: Milestone) -> Fields:
        job = milestone.job
        if milestone.name in ALERTS:
            self._oncall(milestone)
            return {}
        if not job.channel_id:  # started outside Slack (CLI, scripts): nothing to tell
            return {}
        if milestone.name == AGENT_STATUS and not job.card_ts:
            # The thread a status marks is not there yet (the claim waits for the card's
            # first post: `models.store.notice`); asked again without counting a try.
            raise NotifyLater("no thread yet", 1.0, tried=False)
        if milestone.name == "queued" or not job.card_ts:
            # The command's response_url serves the first card at most (a channel Errand
            # cannot post in): once it is posted, it is dropped.
            return {**self._card_once(milestone), "response_url": None}
        if milestone.name == CARD:
            self._edit_card(job)
            return {}
        if milestone.name in MARKS:
            self._mark(milestone)
            return {}
        return self._tell(milestone)

    def _mark(self, milestone: Milestone) -> None:
        """Beside the news: the asking message's emoji, or the thread's agent status."""
        if milestone.name == REACTION:
            return react(self.client, self.budget, milestone)
        self.sessions.set(milestone, self.title(milestone.job))

    def _tell(self, milestone: Milestone) -> Fields:
        """The news in the job's thread; in a DM once its channel is known to be gone."""
        if self.budget.is_lost(milestone.job.channel_id):
            return self._moved(milestone)
        try:
            self.news.tell(milestone)
        except ChannelGone:
            return self._moved(milestone)
        return {}

    def alert(self, text: str) -> None:
        """A line in the on-call channel; best effort, since nothing waits on it."""
        if not self.oncall_channel:
            return
        try:
            text = f":rotating_light: {text}"
            call(self.client.chat_postMessage, channel=self.oncall_channel, text=text)
        except Exception:
            log.exception("on-call alert not delivered")

    def allowance(self, milestone: str) -> int:
        return self.budget.available(SPENDS[milestone])

    def title(self, job: Job) -> str:
        kind = self.kinds.kinds.get(job.kind)
        return kind.title if kind else job.kind

    def streams_for(self, job: Job) -> float | None:
        """Seconds an interactive job's answer streams before it carries on in the
        background (None: until it ends)."""
        kind = self.kinds.kinds.get(job.kind)
        return kind.interactive_seconds if kind else None

    # -- on-call ----------------------------------------------------------------------

    def _oncall(self, milestone: Milestone) -> None:
        """A stuck job, or one its requester escalated, with the facts and controls."""
        if not self.oncall_channel:
            return
        job, by = milestone.job, milestone.detail.get("by")
        text, blocks = oncall_alert(job, self.title(job), self.clock(), escalated_by=by)
        try:
            call(
                self.client.chat_postMessage,
                budget=self.budget,
                channel=self.oncall_channel,
                text=text,
                blocks=blocks,
                metadata=job_metadata(job),
            )
        except SlackApiError as exc:
            raise Undeliverable(f"on-call channel refused the alert: {error_code(exc)}") from exc

    # -- the card ---------------------------------------------------------------------

    def _card_once(self, milestone: Milestone) -> Fields:
        """The first card, or the one a try that may have posted it (killed) made after all."""
        job, uncertain = milestone.job, milestone.detail.get(UNCERTAIN)
        found = card_posted(self.client, self.budget, job) if uncertain else None
        if found is None:
            return self._first_card(job, partial(milestone.sending, "card"))
        return {"thread_ts": job.thread_ts or found, "card_ts": found}

    def _first_card(self, job: Job, before: Before) -> Fields:
        """In the job's channel, or its thread there; a card in a DM is never looked for."""
        assert job.channel_id is not None
        if self.budget.is_lost(job.channel_id):
            return self._card_in_dm(job)
        try:
            ts = self._post_card_in(job, job.channel_id, job.thread_ts, before)
            return {"thread_ts": job.thread_ts or ts, "card_ts": ts}
        except SlackApiError as exc:
            if error_code(exc) not in CANNOT_POST:
                raise Undeliverable(f"the card could not be posted: {error_code(exc)}") from exc
            self.budget.lose(job.channel_id)
        return self._card_in_dm(job, note=True)

    def _post_card_in(self, job: Job, channel: str, thread_ts: str | None, before: Before) -> str:
        text, blocks = self._card(job)
        posted = call(
            self.client.chat_postMessage,
            budget=self.budget,
            keep=int(channel == job.channel_id),  # its channel's last post is for results
            before=before,
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            blocks=blocks,
            metadata=job_metadata(job),
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(posted["ts"])

    def _card(self, job: Job) -> tuple[str, list[dict[str, Any]]]:
        """The card as it is now, linked to the job's thread once that is known."""
        return card(job, self.title(job), self.clock(), link=self.links.of(job))

    def _card_in_dm(self, job: Job, *, note: bool = False) -> Fields:
        """Errand cannot post in the job's channel: the card and its news go to a DM with
        the requester. At the command itself, the response_url and a first DM line say
        why and how to fix it; a channel lost later needs no more than the card."""
        assert job.channel_id is not None
        try:
            dm = self._dm(job.requested_by)
            if note:
                self._explain(job, dm)
            ts = self._post_card_in(job, dm, None, None)
            return {"channel_id": dm, "thread_ts": ts, "card_ts": ts}
        except SlackApiError as exc:
            self.alert(f"Errand cannot reach {actor(job.requested_by)} about job `{job.id}`.")
            raise Undeliverable(f"no way to reach the requester: {error_code(exc)}") from exc

    def _dm(self, user: str) -> str:
        """The DM channel with `user`, opened once per process."""
        if user not in self._dms:
            opened = call(self.client.conversations_open, budget=self.budget, users=user)
            self._dms[user] = str(opened["channel"]["id"])
        return self._dms[user]

    def _explain(self, job: Job, dm: str) -> None:
        note = thread.cannot_post(str(job.channel_id))
        if job.response_url:
            self._respond(job.response_url, note)
        call(self.client.chat_postMessage, budget=self.budget, channel=dm, text=note)

    def _moved(self, milestone: Milestone) -> Fields:
        """The channel went away after the card: deliver this news in a DM instead."""
        job = milestone.job
        moved = self._card_in_dm(job)
        for key, value in moved.items():
            setattr(job, key, value)
        try:
            self.news.tell(milestone)
        except NotifyLater as later:  # the move is stored even when the news must wait
            later.changes = {**moved, **later.changes}
            raise
        return moved

    def _respond(self, url: str, text: str) -> None:
        try:
            WebhookClient(url, timeout=10).send(text=text, response_type="ephemeral")
        except OSError as exc:  # an expired response_url must not stop the DM
            log.warning("response_url failed", extra={"error": str(exc)})

    def _edit_card(self, job: Job) -> None:
        if self.budget.is_lost(job.channel_id):
            return  # the card is out of reach; the job's news goes to a DM
        text, blocks = self._card(job)
        try:
            call(
                self.client.chat_update,
                budget=self.budget,
                channel=job.channel_id,
                ts=job.card_ts,
                text=text,
                blocks=blocks,
            )
        except SlackApiError as exc:
            if error_code(exc) not in (*CANNOT_POST, SlackErrorCode.MESSAGE_NOT_FOUND):
                raise Undeliverable(f"the card could not be edited: {error_code(exc)}") from exc
            log.warning("status card is gone", extra={"job_id": job.id, "error": error_code(exc)})
