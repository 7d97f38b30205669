"""The notify pulse: deliver due milestones through the notifier and record each one.

A status change writes notice rows in its own transaction (`models.store.notice`); this
pulse claims them afterwards, hands them to the `Notifier` the top floor wired in (Slack,
or the log), and settles each delivery the moment it ends, so a notifier outage delays
messages but never loses, reorders or repeats them. A job's news goes in order; its card
edits and on-call alerts go on their own, so a failure of one holds up no other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import nullcontext
from dataclasses import dataclass

from models.base import utcnow
from models.db import Database
from models.notifier import (
    AGENT_STATUS,
    CARD,
    SENDING,
    UNCERTAIN,
    Milestone,
    Notifier,
    NotifyLater,
    Undeliverable,
)
from models.status import RESULTS, values
from models.store.delivery import MAX_TRIES, Outcome, backoff, settle
from models.store.notice import Claimed, claim_newest, claim_news
from worker.metrics import milestone_delivered
from worker.right_of_way import RightOfWay

log = logging.getLogger(__name__)

# Two jobs' news per notify thread: a result that comes in during a notify tick
# waits for that tick, and a 500-job tick of "queued" and "running" news took
# 0.5-2 s while jobs were launching.
BATCH = 64
CARD_BATCH = 64  # card edits, and agent statuses, per tick at most (within the budget)
# A notify tick stops starting deliveries after this long and hands the rest back,
# so a slow Slack cannot keep the worker's other pulses (follow, launch) waiting.
BUDGET_SECONDS = 2.0
_RESULTS = frozenset(values(RESULTS))  # news that tells an outcome


@dataclass(frozen=True)
class Delivery:
    """What one notify tick did, and how long its oldest notice had waited to be sent."""

    delivered: int
    late: float


def deliver_due(
    db: Database,
    notifier: Notifier,
    executor: Executor,
    *,
    batch: int = BATCH,
    right_of_way: RightOfWay | None = None,
) -> Delivery:
    """Claim due news, alerts, card edits and statuses, deliver them side by side, settle
    each. A result holds this worker's launches while it goes out (`right_of_way`)."""
    news = claim_news(db, jobs=batch)
    coalesced = [
        m
        for name in (CARD, AGENT_STATUS)
        for m in claim_newest(db, name, limit=min(notifier.allowance(name), CARD_BATCH))
    ]
    if not news and not coalesced:
        return Delivery(0, 0.0)
    # How late the news is (card edits wait for Slack's budget by design: not lateness).
    now = utcnow()
    late = max(((now - (c.news or c.alone)[0].due_at).total_seconds() for c in news), default=0.0)
    until = time.monotonic() + BUDGET_SECONDS
    work: list[Callable[[], list[Outcome]]] = [
        *(_in_order(db, notifier, c, until, right_of_way) for c in news),
        *(_alone(db, notifier, m, until) for c in news for m in c.alone),
        *(_alone(db, notifier, m, until) for m in coalesced),
    ]
    outcomes = [o for done in executor.map(lambda run: run(), work) for o in done]
    return Delivery(sum(1 for o in outcomes if o.wait is None and not o.given_up), late)


def _in_order(
    db: Database,
    notifier: Notifier,
    claimed: Claimed,
    until: float,
    right_of_way: RightOfWay | None,
) -> Callable[[], list[Outcome]]:
    """A job's news in order; one that must wait holds back the rest, one given up does
    not; past the tick's budget the rest wait for the next tick."""

    def run() -> list[Outcome]:
        outcomes: list[Outcome] = []
        for index, milestone in enumerate(claimed.news):
            if time.monotonic() > until:
                return outcomes + _hand_back(db, claimed.news[index:])
            result = milestone.name in _RESULTS
            with right_of_way.result() if right_of_way and result else nullcontext():
                outcome = _deliver(db, notifier, milestone)
            outcomes.append(outcome)
            if outcome.wait is not None and not outcome.given_up:
                return outcomes + _hand_back(db, claimed.news[index + 1 :])
        return outcomes

    return run


def _alone(
    db: Database, notifier: Notifier, milestone: Milestone, until: float
) -> Callable[[], list[Outcome]]:
    def run() -> list[Outcome]:
        if time.monotonic() > until:
            return _hand_back(db, [milestone])
        return [_deliver(db, notifier, milestone)]

    return run


def _hand_back(db: Database, items: list[Milestone]) -> list[Outcome]:
    """Untried, unclaimed and due again at the next tick, in the same order."""
    outcomes = [_fenced(m, wait=0.0, tried=False) for m in items]
    for outcome in outcomes:
        settle(db, outcome)
    return outcomes


def _deliver(db: Database, notifier: Notifier, milestone: Milestone) -> Outcome:
    """Deliver one milestone and record how it went before anything else is sent."""
    outcome = _attempt(notifier, milestone)
    settle(db, outcome)
    milestone_delivered(milestone, ok=outcome.wait is None and not outcome.given_up)
    for key, value in (outcome.changes or {}).items():  # later news of the job sees them
        setattr(milestone.job, key, value)
    if outcome.given_up:
        log.warning(
            "notice undeliverable",
            extra={"job_id": milestone.job.id, "milestone": milestone.name, "error": outcome.error},
        )
    return outcome


def _attempt(notifier: Notifier, milestone: Milestone) -> Outcome:
    try:
        return _fenced(milestone, changes=notifier.notify(milestone))
    except NotifyLater as later:
        return _later(milestone, later)
    except Undeliverable as gone:
        return _fenced(milestone, wait=0.0, error=str(gone), given_up=True)
    except Exception as exc:
        log.exception("notice failed", extra={"job_id": milestone.job.id})
        error = f"{type(exc).__name__}: {exc}"
        last = milestone.tries >= MAX_TRIES
        return _fenced(milestone, wait=backoff(milestone.tries, None), error=error, given_up=last)


def _later(milestone: Milestone, later: NotifyLater) -> Outcome:
    progress = {**milestone.detail, **later.progress}
    progress.pop(SENDING, None)  # this try's end is recorded: uncertain only if it says so
    if later.uncertain:
        progress[UNCERTAIN] = True
    changes = later.changes or None
    if not later.tried:
        wait = later.retry_after
        return _fenced(milestone, wait=wait, progress=progress, tried=False, changes=changes)
    last = milestone.tries >= MAX_TRIES
    wait = max(later.retry_after, backoff(milestone.tries, None))  # an outage is waited out
    error = str(later)
    return _fenced(
        milestone, wait=wait, error=error, progress=progress, given_up=last, changes=changes
    )


def _fenced(milestone: Milestone, **fields: object) -> Outcome:
    """An outcome under the claim the milestone was delivered with."""
    return Outcome(milestone.notice_id, milestone.job.id, milestone.claim, **fields)  # type: ignore[arg-type]
