"""Links to each job's thread (`chat.getPermalink`), asked of Slack once per job.

The card, `/jobs` and App Home link every job to its thread. Slack's answer is kept in
Redis for every worker and bot, so a job costs one call however often it is shown; a
call the budget (Tier 4) cannot make now, or one Slack refuses, leaves that job without a
link this time rather than holding anything up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from redis.exceptions import RedisError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.budget import PREFIX, Budget
from bot.slack import call, error_code
from models.job import Job
from models.notifier import NotifyLater

log = logging.getLogger(__name__)

KEEP_FOR = 90 * 86_400  # a job older than this is rarely listed; its link is asked again


class Permalinks:
    """Thread links of jobs, from the shared cache or from Slack."""

    def __init__(self, client: WebClient, budget: Budget) -> None:
        self.client = client
        self.budget = budget

    def of(self, job: Job) -> str | None:
        """The link to `job`'s thread, if it has one Slack will name."""
        return self.of_all([job]).get(job.id)

    def of_all(self, jobs: Iterable[Job]) -> dict[str, str]:
        """Job ID → link to its thread, for the jobs that have a thread."""
        threaded = [j for j in jobs if j.channel_id and j.thread_ts]
        links = self._cached(threaded)
        for job in threaded:
            if job.id not in links:
                found = self._ask(job)
                if found:
                    links[job.id] = found
        return links

    def _cached(self, jobs: list[Job]) -> dict[str, str]:
        if not jobs:
            return {}
        try:
            found = self.budget.redis.mget([_key(j) for j in jobs])
        except RedisError:
            return {}
        return {j.id: _text(v) for j, v in zip(jobs, found, strict=True) if v}

    def _ask(self, job: Job) -> str | None:
        try:
            answer = call(
                self.client.chat_getPermalink,
                budget=self.budget,
                channel=job.channel_id,
                message_ts=job.thread_ts,
            )
        except NotifyLater:
            return None  # no budget now: linked next time
        except SlackApiError as exc:
            log.info("no permalink", extra={"job_id": job.id, "error": error_code(exc)})
            return None
        link = str(answer.get("permalink") or "")
        if link:
            self._keep(job, link)
        return link or None

    def _keep(self, job: Job, link: str) -> None:
        try:
            self.budget.redis.set(_key(job), link, ex=KEEP_FOR)
        except RedisError:
            log.warning("permalink not cached", extra={"job_id": job.id})


def _key(job: Job) -> str:
    """Per job and thread: a job moved to a DM (its channel lost) gets its new thread's."""
    return f"{PREFIX}:permalink:{job.id}:{job.channel_id}:{job.thread_ts}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
