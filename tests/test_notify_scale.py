"""Delivery scales with workers: every worker's notify pulse claims and delivers news of
its own at the same time, and each job's news still goes out once, in order."""

from __future__ import annotations

import pytest

from models.store.submission import submit
from tests.support.procs import wait_for
from tests.support.slack import TOKEN, SlackSandbox, job_id_of, thread_texts
from tests.support.stack import Stack
from worker.notify import BATCH

JOBS = BATCH + 32  # more than one claim takes
HELD = 12.0  # seconds Slack holds the answer to each card's first post
THREADS = str(BATCH)  # a worker posts a whole claim at once
CONNECTIONS = "8"  # each worker's: the tests beside this one share PostgreSQL's 100
RESULT = "Result of job"


@pytest.mark.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)
def test_two_workers_deliver_side_by_side_and_each_job_once_in_order(
    stack: Stack, slack: SlackSandbox
) -> None:
    channels = [f"C_SCALE{n:03d}" for n in range(JOBS)]
    for channel in channels:
        slack.add_channel(channel)
    slack.fault(method="chat.postMessage", answer_delay=HELD, count=JOBS)
    asked = "Q [sandbox: duration=1]"
    ids = {
        submit(stack.db, stack.kinds, "research", asked, user="U1", channel=c).id for c in channels
    }
    stack.env.update(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_API_URL=slack.api_url,
        ERRAND_FOLLOW_CONCURRENCY=THREADS,
        ERRAND_DB_CONNECTIONS=CONNECTIONS,
    )
    for _ in range(2):
        stack.start_worker()
    wait_for(lambda: _results(slack, channels) == ids, 120, "results were not all posted")
    firsts = _first_posts(slack).values()
    # One claimer at a time: the posts of the claim after the first waited for its answers
    # (the spread is the workers' start-up skew otherwise).
    assert max(firsts) - min(firsts) < HELD, "the second worker's claim waited for the first's"
    for channel in channels:
        (card,) = slack.cards(channel)  # one first post
        replies = thread_texts(card)
        assert [t for t in replies if RESULT in t] == [replies[-1]], replies  # once, last


def _first_posts(slack: SlackSandbox) -> dict[str, float]:
    """Channel -> when its first post reached Slack."""
    firsts: dict[str, float] = {}
    for call in slack.calls("chat.postMessage"):  # in arrival order
        firsts.setdefault(str(call["args"].get("channel")), float(call["at"]))
    return firsts


def _results(slack: SlackSandbox, channels: list[str]) -> set[str]:
    return {
        job_id_of(card)
        for channel in channels
        for card in slack.cards(channel)
        if any(RESULT in text for text in thread_texts(card))
    }
