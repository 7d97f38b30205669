"""The seam between the job lifecycle and whoever tells people about it.

The worker delivers milestones through a `Notifier`; the bot's Slack notifier
implements it and the top floor wires it in, so the worker knows no Slack.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from models.job import Job

log = logging.getLogger(__name__)


class NotifyLater(Exception):
    """The notifier could not deliver now (rate limit, outage); try again after `retry_after`.

    `progress` is what a multi-part delivery already sent, kept for the next try.
    """

    def __init__(
        self, reason: str, retry_after: float = 5.0, progress: dict[str, Any] | None = None
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.progress = progress or {}


@dataclass(frozen=True)
class Milestone:
    """One notice with the job as it is now: renderers show the latest state."""

    notice_id: int
    name: str
    detail: dict[str, Any]
    job: Job
    due_at: datetime  # when the notice became due: how long it waited, if late
    # False when a later milestone of the same job follows in this delivery: a
    # notifier that re-renders the job's whole state (a status card) can skip it.
    last: bool = True


class Notifier(Protocol):
    """Delivers a milestone; returns job fields to store (e.g. the status message's ts)."""

    def notify(self, milestone: Milestone) -> dict[str, Any]: ...

    def alert(self, text: str) -> None:
        """Tell on-call about something that is not one job's (best effort)."""


class LogNotifier:
    """The notifier when no Slack is configured: a structured log line per milestone."""

    def notify(self, milestone: Milestone) -> dict[str, Any]:
        job = milestone.job
        log.info(
            "job %s: %s",
            job.id,
            milestone.name,
            extra={"job_id": job.id, "milestone": milestone.name, "status": job.status},
        )
        return {}

    def alert(self, text: str) -> None:
        log.warning("on-call alert: %s", text, extra={"alert": text})
