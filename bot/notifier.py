"""SlackNotifier: the worker's voice in Slack (status card, thread, review requests).

It satisfies `models.notifier.Notifier`. Milestones arrive in order per job; each is
delivered by rendering the job as it is now, so a late or repeated delivery still
shows the truth. Slack trouble raises `NotifyLater` (via `bot.slack.call`) and the
milestone is retried later; nothing is dropped and the job never waits for Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.blocks import review, thread
from bot.blocks.card import card
from bot.blocks.oncall import stuck_alert
from bot.blocks.result import file_comment, result_messages, too_long_for_messages
from bot.ids import CANNOT_POST, EventType, SlackErrorCode
from bot.slack import call, error_code, make_client
from models.base import utcnow
from models.job import Job
from models.kinds import KindsConfig
from models.notifier import Milestone
from models.settings import Settings, require

log = logging.getLogger(__name__)

Fields = dict[str, Any]


class SlackNotifier:
    """Posts and updates each job's card and thread; see the module docstring."""

    def __init__(
        self,
        client: WebClient,
        *,
        kinds: KindsConfig,
        approvals_channel: str | None = None,
        oncall_channel: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.client = client
        self.kinds = kinds
        self.approvals_channel = approvals_channel
        self.oncall_channel = oncall_channel
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, kinds: KindsConfig) -> SlackNotifier:
        token = require(settings.slack_bot_token, "SLACK_BOT_TOKEN", "Errand posts to Slack")
        client = make_client(token, settings.slack_api_url)
        return cls(
            client,
            kinds=kinds,
            approvals_channel=settings.approvals_channel,
            oncall_channel=settings.oncall_channel,
        )

    def notify(self, milestone: Milestone) -> Fields:
        job = milestone.job
        if milestone.name == "stuck":
            self._stuck(job)
        if not job.channel_id:  # started outside Slack (CLI, scripts): nothing to update
            return {}
        if milestone.name == "queued" or not job.thread_ts:
            return self._post_card(job)
        if milestone.last:  # the card shows the job as it is now: one update per batch
            self._update_card(job)
        self._tell_thread(milestone)
        return {}

    def alert(self, text: str) -> None:
        """A line in the on-call channel; best effort, since nothing waits on it."""
        if not self.oncall_channel:
            return
        try:
            call(
                self.client.chat_postMessage,
                channel=self.oncall_channel,
                text=f":rotating_light: {text}",
            )
        except Exception:
            log.exception("on-call alert not delivered")

    def _stuck(self, job: Job) -> None:
        if not self.oncall_channel:
            return
        text, blocks = stuck_alert(job, self.title(job), self.clock())
        call(
            self.client.chat_postMessage,
            channel=self.oncall_channel,
            text=text,
            blocks=blocks,
            metadata={
                "event_type": EventType.JOB_METADATA.value,
                "event_payload": {"job_id": job.id},
            },
        )

    # -- the card ---------------------------------------------------------------------

    def title(self, job: Job) -> str:
        kind = self.kinds.kinds.get(job.kind)
        return kind.title if kind else job.kind

    def _post_card(self, job: Job) -> Fields:
        assert job.channel_id is not None
        try:
            ts = self._post_card_in(job, job.channel_id)
        except SlackApiError as exc:
            if error_code(exc) not in CANNOT_POST:
                raise
            return self._card_in_dm(job)
        return {"thread_ts": ts}

    def _post_card_in(self, job: Job, channel: str) -> str:
        text, blocks = card(job, self.title(job), self.clock())
        posted = call(
            self.client.chat_postMessage,
            channel=channel,
            text=text,
            blocks=blocks,
            metadata={
                "event_type": EventType.JOB_METADATA.value,
                "event_payload": {"job_id": job.id},
            },
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(posted["ts"])

    def _card_in_dm(self, job: Job) -> Fields:
        """The bot is not in the channel: answer via response_url and keep the card in a DM."""
        assert job.channel_id is not None
        note = thread.cannot_post(job.channel_id)
        if job.response_url:
            self._respond(job.response_url, note)
        opened = call(self.client.conversations_open, users=job.requested_by)
        dm = str(opened["channel"]["id"])
        call(self.client.chat_postMessage, channel=dm, text=note)
        return {"channel_id": dm, "thread_ts": self._post_card_in(job, dm)}

    def _respond(self, url: str, text: str) -> None:
        try:
            WebhookClient(url, timeout=10).send(text=text, response_type="ephemeral")
        except OSError as exc:  # an expired response_url must not stop the DM
            log.warning("response_url failed", extra={"error": str(exc)})

    def _update_card(self, job: Job) -> None:
        text, blocks = card(job, self.title(job), self.clock())
        try:
            call(
                self.client.chat_update,
                channel=job.channel_id,
                ts=job.thread_ts,
                text=text,
                blocks=blocks,
            )
        except SlackApiError as exc:
            if error_code(exc) != SlackErrorCode.MESSAGE_NOT_FOUND:
                raise
            log.warning("status card was deleted", extra={"job_id": job.id})

    # -- the thread -------------------------------------------------------------------

    def _tell_thread(self, milestone: Milestone) -> None:
        job = milestone.job
        handlers: dict[str, Callable[[], object]] = {
            "started": lambda: self.reply(job, thread.started(job, job.lane)),
            "still_running": lambda: self.reply(job, thread.still_running(job, self.clock())),
            "progress": lambda: self.reply(job, thread.progress(milestone.detail)),
            "canceling": lambda: self.reply(job, thread.canceling(job)),
            "retrying": lambda: self.reply(job, thread.retrying(job)),
            "completed": lambda: self.deliver(job, f"Result of job {job.id}", milestone.detail),
            "failed": lambda: self.reply(job, thread.failed(job)),
            "canceled": lambda: self.reply(job, thread.canceled(job)),
            "expired": lambda: self.reply(job, thread.expired(job)),
            "needs_review": lambda: self._request_review(job, milestone.detail),
            "approved": lambda: self._decided(job, milestone.detail),
            "rejected": lambda: self._decided(job, milestone.detail),
            "awaiting_approval": lambda: self._ask_to_start(job, milestone.detail),
        }
        handler = handlers.get(milestone.name)
        if handler is not None:
            handler()

    def reply(self, job: Job, text: str, blocks: list[dict[str, Any]] | None = None) -> str:
        """One message in the job's thread; returns its ts."""
        posted = call(
            self.client.chat_postMessage,
            channel=job.channel_id,
            thread_ts=job.thread_ts,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(posted["ts"])

    def deliver(self, job: Job, heading: str, sent: dict[str, Any] | None = None) -> str:
        """The whole result in the thread (a file when very long); returns the first ts.

        A long result takes several messages; if Slack stops us part way, the parts
        already posted are marked in `sent` (the notice's detail, saved when the
        notice is put back) so the retry posts only the rest.
        """
        if too_long_for_messages(job):
            call(
                self.client.files_upload_v2,
                channel=job.channel_id,
                thread_ts=job.thread_ts,
                content=job.output_text or "",
                filename=f"errand-{job.id}.md",
                title=heading,
                initial_comment=file_comment(job, heading),
            )
            return str(job.thread_ts)
        progress = sent if sent is not None else {}
        for index, message in enumerate(result_messages(job, heading)):
            if index < progress.get("parts_sent", 0):
                continue
            ts = self.reply(job, message.text, message.blocks)
            progress.setdefault("first_ts", ts)
            progress["parts_sent"] = index + 1
        return str(progress["first_ts"])

    # -- review -----------------------------------------------------------------------

    def _request_review(self, job: Job, sent: dict[str, Any]) -> None:
        """Draft in the thread, request to the approvers, a note in the thread: each once."""
        first = self.deliver(job, f"Draft of job {job.id}, waiting for review (not final)", sent)
        if "request_in" not in sent:
            sent["request_in"] = self._post_review_request(job, first)
        self.reply(job, thread.review_pending(sent["request_in"]))

    def _ask_to_start(self, job: Job, cost: dict[str, Any]) -> None:
        """Over its requester's budget: approvers decide whether the job starts."""
        text, blocks = review.start_request(job, self.title(job), cost)
        self._post_request(self.approvals_channel or job.channel_id, None, text, blocks)

    def _post_review_request(self, job: Job, first: str) -> str | None:
        """Post in the approvals channel (or the thread); returns the channel used, if not."""
        link = self._permalink(job.channel_id, first)
        text, blocks = review.approval_request(job, self.title(job), link)
        where = self.approvals_channel
        try:
            thread_ts = None if where else job.thread_ts
            self._post_request(where or job.channel_id, thread_ts, text, blocks)
        except SlackApiError as exc:
            if not where or error_code(exc) not in CANNOT_POST:
                raise
            log.warning("cannot post in the approvals channel", extra={"channel": where})
            where = None
            self._post_request(job.channel_id, job.thread_ts, text, blocks)
        return where

    def _post_request(
        self, channel: str | None, thread_ts: str | None, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        call(
            self.client.chat_postMessage,
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            blocks=blocks,
            unfurl_links=False,
        )

    def _decided(self, job: Job, where: dict[str, Any]) -> None:
        """Update the review request (who, when), tell the requester, deliver on approval."""
        line = review.decision_line(job)
        if where.get("channel") and where.get("ts"):
            link = self._permalink(job.channel_id, job.thread_ts)
            text, blocks = review.decided_request(job, self.title(job), link)
            call(
                self.client.chat_update,
                channel=where["channel"],
                ts=where["ts"],
                text=text,
                blocks=blocks,
            )
        if job.status == "completed":
            line += "\nThe draft above is approved and final."
        self.reply(job, line)

    def _permalink(self, channel: str | None, ts: str | None) -> str | None:
        if not channel or not ts:
            return None
        try:
            found = call(self.client.chat_getPermalink, channel=channel, message_ts=ts)
        except SlackApiError:
            return None
        return str(found["permalink"])
