"""Posting a job's news in its thread, once each, within Slack's budget.

* Every post carries message metadata naming its notice and part, so a retry after a
  try whose outcome is unknown (a timeout, a worker killed mid-call) first looks in the
  thread and does not post what is already there.
* Each post records that it goes out just before its call, with the parts already sent
  (the notice's checkpoint, `Milestone.sending`): a retry resumes where it stopped and
  never repeats a part, and looks only for a post that was under way. Slack allows a
  look once a minute, so a worker killed holding many claimed notices must not cost one
  each.
* Blocks Slack refuses (`invalid_blocks`, `msg_too_long`) are sent again as plain text,
  so a rendering fault never costs the person their answer.
* A channel Errand can no longer post in raises `ChannelGone`; the notifier then moves
  the job to a direct message with the requester and delivers there.
* A status card is found the same way, by the job metadata it carries (`card_posted`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.budget import Budget
from bot.ids import CANNOT_POST, EventType, SlackErrorCode
from bot.slack import call, error_code
from models.job import Job
from models.notifier import UNCERTAIN, Milestone, NotifyLater

Blocks = list[dict[str, Any]]
REFUSED_BLOCKS = frozenset({SlackErrorCode.INVALID_BLOCKS, SlackErrorCode.MSG_TOO_LONG})
PLAIN_CHARS = 39_000  # under Slack's 40,000 for a message's text
LOOK_BACK = 3_600.0  # how far back a retry looks in the thread for its own earlier post


class ChannelGone(Exception):
    """Errand cannot post in the job's channel any more (archived, removed, deleted)."""


@dataclass(frozen=True)
class Where:
    """A channel, and the thread in it (None: a new top-level message)."""

    channel: str
    thread_ts: str | None


@dataclass(frozen=True)
class Part:
    """One message of a notice's news."""

    text: str
    blocks: Blocks | None = None


def _plain(part: Part) -> str:
    """The part as text alone: its heading and every section's text, in order."""
    texts = [part.text]
    for block in part.blocks or []:
        inner = block.get("text")
        if isinstance(inner, dict) and isinstance(inner.get("text"), str):
            texts.append(inner["text"])
    return "\n\n".join(texts)[:PLAIN_CHARS]


class Poster:
    """Posts one milestone's messages in its job's thread (see the module docstring)."""

    def __init__(self, client: WebClient, budget: Budget) -> None:
        self.client = client
        self.budget = budget

    def post_all(
        self,
        milestone: Milestone,
        parts: list[Part],
        *,
        step: str = "news",
        where: Where | None = None,
        urgent: bool = True,
    ) -> str:
        """Post the parts of `step` not yet sent, recording each; returns the first's ts.

        `where` is (channel, thread_ts), by default the job's thread; a milestone may post
        several steps (a review request, then the draft under it), each resuming apart.
        A post that is not `urgent` (a progress line) leaves the channel's last token
        of Slack's budget to results.
        """
        job = milestone.job
        place = where or Where(str(job.channel_id), job.thread_ts)
        sent: dict[str, Any] = milestone.detail
        for index, part in enumerate(parts):
            if index < int(sent.get(f"{step}_sent", 0)):
                continue
            label = f"{step}:{index}"
            ts = self._post_once(milestone, label, part, place, keep=0 if urgent else 1)
            sent.setdefault(f"{step}_ts", ts)
            sent[f"{step}_sent"] = index + 1
            milestone.sent()  # recorded with the next post's start, or the delivery's end
        return str(sent.get(f"{step}_ts") or place.thread_ts)

    def _post_once(
        self, milestone: Milestone, label: str, part: Part, place: Where, *, keep: int
    ) -> str:
        if milestone.detail.get(UNCERTAIN):
            found = self._already_posted(milestone, label, place)
            if found:
                return found
        try:
            return self._post(milestone, label, part, place, keep)
        except NotifyLater as later:
            later.progress = {**milestone.detail, **later.progress}
            raise

    def _post(self, milestone: Milestone, label: str, part: Part, place: Where, keep: int) -> str:
        job = milestone.job
        where: dict[str, Any] = {"channel": place.channel, "thread_ts": place.thread_ts}
        meta = {
            "event_type": EventType.NOTICE_METADATA.value,
            "event_payload": {"job_id": job.id, "notice": milestone.notice_id, "part": label},
        }
        before = partial(milestone.sending, label)
        try:
            return self._send(where, part.text, part.blocks, meta, keep, before)
        except SlackApiError as exc:
            code = error_code(exc)
            if code in CANNOT_POST:
                self.budget.lose(place.channel)
                raise ChannelGone(code) from exc
            if code not in REFUSED_BLOCKS or not part.blocks:
                raise
        return self._send(where, _plain(part), None, meta, keep, before)

    def _send(
        self,
        where: dict[str, Any],
        text: str,
        blocks: Blocks | None,
        meta: Any,
        keep: int,
        before: Callable[[], None],
    ) -> str:
        posted = call(
            self.client.chat_postMessage,
            budget=self.budget,
            keep=keep,
            before=before,
            **where,
            text=text,
            blocks=blocks,
            metadata=meta,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(posted["ts"])

    def _already_posted(self, milestone: Milestone, label: str, place: Where) -> str | None:
        """The ts of this notice's part if an earlier try posted it after all."""
        if place.thread_ts is None:
            return None  # a top-level post: nothing to look in cheaply; post again
        replies = call(
            self.client.conversations_replies,
            budget=self.budget,
            channel=place.channel,
            ts=place.thread_ts,
            oldest=str(time.time() - LOOK_BACK),
            include_all_metadata=True,
            limit=15,
        )
        for message in replies.get("messages") or []:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("notice") == milestone.notice_id and payload.get("part") == label:
                return str(message["ts"])
        return None


def job_metadata(job: Job) -> dict[str, Any]:
    """The metadata every status card carries: it names the job."""
    return {"event_type": EventType.JOB_METADATA.value, "event_payload": {"job_id": job.id}}


def card_posted(client: WebClient, budget: Budget, job: Job) -> str | None:
    """The ts of this job's card if a try that never recorded it (its worker killed
    mid-delivery) posted it after all: found by the job metadata every card carries."""
    where: dict[str, Any] = {
        "channel": job.channel_id,
        "oldest": str(job.created_at.timestamp() - 1),
        "include_all_metadata": True,
        "limit": 15,  # what Slack gives a non-Marketplace app per call
    }
    method: Callable[..., Any] = client.conversations_history
    if job.thread_ts:  # asked in a thread: the card is a reply there
        method, where["ts"] = client.conversations_replies, job.thread_ts
    try:
        found = call(method, budget=budget, **where)
    except SlackApiError:
        return None  # nothing to look in (a channel gone): the card is posted as usual
    for message in found.get("messages") or []:
        meta = message.get("metadata") or {}
        if meta.get("event_type") == EventType.JOB_METADATA.value and (
            (meta.get("event_payload") or {}).get("job_id") == job.id
        ):
            return str(message["ts"])
    return None
