"""Telling the person who asked: a result or a decision on their job mentions them in its
thread, so Slack notifies them; or, when they chose it on App Home, a short DM with a link
to the news in the thread (which is posted there all the same, for everyone else in it)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.people import is_slack_user
from bot.blocks.text import hyperlink
from bot.budget import Budget
from bot.poster import Part, Poster, Where
from bot.slack import call
from models.notifier import Milestone, NotifyLater

log = logging.getLogger(__name__)

DM_CHANNEL = "D"  # Slack's prefix for a direct message channel's ID


class Requester:
    """How one milestone's news reaches its job's requester."""

    def __init__(
        self, client: WebClient, budget: Budget, poster: Poster, dm: Callable[[str], str]
    ) -> None:
        self.client = client
        self.budget = budget
        self.poster = poster
        self.dm = dm

    def by_dm(self, m: Milestone) -> bool:
        """They chose DMs, and the job is not in their DM already (the thread is the DM)."""
        job = m.job
        if not is_slack_user(job.requested_by) or str(job.channel_id).startswith(DM_CHANNEL):
            return False
        return m.prefers_dm()

    def ping(self, m: Milestone, *, by_dm: bool) -> str:
        """`<@U…> ` before the news in the thread, unless they are told by DM instead."""
        who = m.job.requested_by
        return f"<@{who}> " if is_slack_user(who) and not by_dm else ""

    def note(self, m: Milestone, text: str, *, step: str) -> None:
        """The DM: `text` and a link to what `step` posted in the thread (its card when the
        post has no ts of its own, a file); posted once, like every part of the news."""
        link = self._link(m, step)
        said = f"{text} {hyperlink(link, 'See it in the thread')}." if link else f"{text}."
        where = Where(self.dm(m.job.requested_by), None)
        self.poster.post_all(m, [Part(said)], step=f"{step}_dm", where=where)

    def _link(self, m: Milestone, step: str) -> str | None:
        job = m.job
        ts = m.detail.get(f"{step}_ts") or job.card_ts
        if not (ts and job.channel_id):
            return None
        try:
            found = call(
                self.client.chat_getPermalink,
                budget=self.budget,
                channel=job.channel_id,
                message_ts=str(ts),
            )
        except (SlackApiError, NotifyLater):  # the note still goes, without its link
            log.warning("no permalink for the note", extra={"job_id": job.id})
            return None
        return str(found.get("permalink") or "") or None
