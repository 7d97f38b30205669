"""The seam between the job lifecycle and whoever tells people about it.

The worker delivers milestones through a `Notifier`; the bot's Slack notifier
implements it and the top floor wires it in, so the worker knows no Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from models.job import Job

log = logging.getLogger(__name__)

# The status card's latest state: one pending row per change, coalesced when claimed
# (only the newest is sent), edited within the notifier's budget, finals first.
CARD = "card"
# Milestones that only change the card: no line in the thread.
CARD_ONLY = frozenset({"running", "held"})
# On-call's news about a job: delivered on its own, never holding up the job's news.
ALERTS = frozenset({"stuck", "escalation"})
UNLIMITED = 1_000_000
# An emoji on the message that asked for the job (a mention): eyes once it is picked up,
# then how it ended. Detail: `ts` (the message), `add` (a name), `remove` (names).
REACTION = "reaction"
# The job thread's status as an agent session (working, waiting for a person, done,
# closed); of a job's pending ones only the newest is sent, so it never goes backwards.
# Detail: `status`.
AGENT_STATUS = "agent_status"
# Marks on the job's messages beside its news: the reaction in order with it, the status
# on its own, as card edits are (`models.store.notice`).
MARKS = frozenset({REACTION, AGENT_STATUS})
# In a notice's detail: the post a try began and whose end it has not recorded (set just
# before the call). Found on a later claim, it makes that try `UNCERTAIN`: the post may
# have landed, so the next try looks for it before posting again. A notice whose try
# ended before any post began is sent again without looking: Slack allows a look
# (`conversations.history`/`replies`) once a minute.
SENDING = "sending"
UNCERTAIN = "uncertain"
# The milestone of an interactive job whose answer shown so far will not go on as it began
# (its worker died under zero data retention, and the provider kept nothing to resume).
# Unlike progress it is news even once the job has finished: it corrects what the thread
# shows, and the result is then posted whole.
INTERRUPTED = "interrupted"


class NotifyLater(Exception):
    """The notifier could not deliver now (rate limit, outage); try again after `retry_after`.

    `progress` is what a multi-part delivery already sent, kept for the next try.
    `tried` is False when nothing was sent to Slack (the budget said wait): that
    does not count as a try. `uncertain` is True when a call may have reached Slack
    without its answer reaching us (a timeout): the next try checks first. `changes`
    are job fields to store even so (the job moved to a DM before the wait).
    """

    def __init__(
        self,
        reason: str,
        retry_after: float = 5.0,
        progress: dict[str, Any] | None = None,
        *,
        tried: bool = True,
        uncertain: bool = False,
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.progress = progress or {}
        self.tried = tried
        self.uncertain = uncertain
        self.changes: dict[str, Any] = {}


class Undeliverable(Exception):
    """The notifier can never deliver this milestone (a permanent error, and no other way
    to reach the person worked): give it up, so it holds up nothing else."""


def _ignore(_progress: dict[str, Any]) -> None:
    return None


def _no_file() -> bytes | None:
    return None


def _by_mention() -> bool:
    return False


@dataclass(frozen=True)
class Milestone:
    """One notice with the job as it is now: renderers show the latest state."""

    notice_id: int
    name: str
    detail: dict[str, Any]
    job: Job
    due_at: datetime  # when the notice became due: how long it waited, if late
    tries: int = 1  # delivery attempts so far, this one included
    claim: datetime | None = None  # the lease this delivery holds: its records are fenced by it
    # Saves what a multi-part delivery has sent, before the next part goes out, so a
    # retry resumes where it stopped (the notice's detail on the next try).
    checkpoint: Callable[[dict[str, Any]], None] = field(default=_ignore, compare=False)
    # A batch job's results file (CSV), read from the store only when it is delivered.
    results: Callable[[], bytes | None] = field(default=_no_file, compare=False)
    # Whether the requester asked for their jobs' results and decisions by DM (App Home)
    # rather than a mention in the thread; read only when one is delivered.
    prefers_dm: Callable[[], bool] = field(default=_by_mention, compare=False)

    def sending(self, label: str) -> None:
        """Record that the post `label` goes out now, before its call (see `SENDING`);
        the next part's record, or the delivery's, ends it."""
        self.detail[SENDING] = label
        self.checkpoint(self.detail)

    def sent(self) -> None:
        """The post in flight landed: nothing is uncertain any more."""
        self.detail.pop(SENDING, None)
        self.detail.pop(UNCERTAIN, None)


class Notifier(Protocol):
    """Delivers a milestone; returns job fields to store (e.g. the status message's ts).

    Raises `NotifyLater` to be tried again, `Undeliverable` to give the milestone up.
    """

    def notify(self, milestone: Milestone) -> dict[str, Any]: ...

    def alert(self, text: str) -> None:
        """Tell on-call about something that is not one job's (best effort)."""

    def allowance(self, milestone: str) -> int:
        """How many notices of `milestone` (a card edit, an agent status) may be delivered
        now without spending past the budget."""


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

    def allowance(self, milestone: str) -> int:
        return UNLIMITED
