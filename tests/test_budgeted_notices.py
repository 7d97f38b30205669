"""Card edits and thread statuses wait for Slack's budget unclaimed: Slack allows about
50 of each a minute across the workspace, and a status claimed beyond the budget was
handed back at every notify tick, a write transaction each: 16,000 in a run of 300 jobs.
Once the budget allows, each job's newest one goes out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select

from bot.budget import Budget
from bot.notifier import SlackNotifier
from bot.slack import make_client
from models.job import Job, Notice
from models.notifier import AGENT_STATUS, CARD
from models.status import JobStatus
from models.store.lifecycle import transition
from models.store.submission import submit
from tests.support.procs import wait_for
from tests.support.slack import TOKEN, SlackSandbox
from tests.support.stack import Stack
from worker.notify import deliver_due

CHANNELS = ("C_BUDGET1", "C_BUDGET2", "C_BUDGET3")
SPENT = ("agents.sessions.setStatus", "chat.update")  # paused: as after a burst of them


def test_statuses_and_card_edits_over_the_budget_stay_unclaimed_until_it_allows(
    stack: Stack, slack: SlackSandbox
) -> None:
    budget = Budget(stack.parts.redis)
    notifier = SlackNotifier(
        make_client(TOKEN, slack.api_url, patient=False), kinds=stack.kinds, budget=budget
    )
    for channel in CHANNELS:
        slack.add_channel(channel)
    ids = [
        submit(stack.db, stack.kinds, "research", f"Question {n}", user="U1", channel=c).id
        for n, c in enumerate(CHANNELS)
    ]
    for method in SPENT:
        budget.pause(method, 120)
    with ThreadPoolExecutor(4) as executor:
        wait_for(
            lambda: deliver_due(stack.db, notifier, executor) and _cards_posted(stack) == 3,
            20,
            "the cards were not posted",
        )
        for job_id in ids:  # each job's card and status change once more
            _move(stack, job_id, JobStatus.RUNNING)
        waiting = _coalesced(stack)
        assert len(waiting) >= 2 * len(ids)  # the status at submission, and the change's
        for _ in range(4):
            deliver_due(stack.db, notifier, executor)
        assert _coalesced(stack) == waiting  # not claimed, not handed back: untouched
        assert slack.calls("agents.sessions.setStatus") == []
        for method in SPENT:  # the budget allows again
            budget.pause(method, 0.001)
        wait_for(
            lambda: deliver_due(stack.db, notifier, executor) is not None and not _pending(stack),
            20,
            "the newest statuses and cards were not sent",
        )
    assert len(slack.calls("agents.sessions.setStatus")) == len(ids)  # the newest of each
    for channel in CHANNELS:
        assert [h["status"] for s in slack.agent_sessions(channel=channel) for h in s["history"]]


def _move(stack: Stack, job_id: str, status: JobStatus) -> None:
    with stack.db.unit() as unit:
        transition(unit.session, job_id, status, actor="provider", action="run", notice="running")


def _cards_posted(stack: Stack) -> int:
    with stack.db.reading() as session:
        return len(session.scalars(select(Job.id).where(Job.card_ts.is_not(None))).all())


def _coalesced(stack: Stack) -> list[tuple[Any, ...]]:
    """Every pending card edit and status, as stored: claims and hand-backs change them."""
    with stack.db.reading() as session:
        rows = session.execute(
            select(Notice.id, Notice.claimed_until, Notice.next_try_at, Notice.tries)
            .where(Notice.milestone.in_((CARD, AGENT_STATUS)), Notice.delivered_at.is_(None))
            .order_by(Notice.id)
        ).all()
    return [tuple(row) for row in rows]


def _pending(stack: Stack) -> list[tuple[Any, ...]]:
    with stack.db.reading() as session:
        rows = session.execute(
            select(Notice.id).where(
                Notice.milestone.in_((CARD, AGENT_STATUS)),
                Notice.delivered_at.is_(None),
                Notice.given_up_at.is_(None),
            )
        ).all()
    return [tuple(row) for row in rows]
