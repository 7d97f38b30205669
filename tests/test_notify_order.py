"""When news backs up, results go out first; the rest keeps its oldest-first order. In a
busy channel a result takes Slack's next post there before the cards of newer jobs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.budget import Budget
from bot.notifier import SlackNotifier
from bot.slack import make_client
from models.status import JobStatus
from models.store.lifecycle import transition
from models.store.submission import submit
from tests.support.procs import wait_for
from tests.support.slack import TOKEN, SlackSandbox, job_id_of
from tests.support.stack import Stack
from worker.notify import deliver_due

# A channel per job: Slack's pace of a post a second per channel is not what is tested.
CHANNELS = ("C_ORDER1", "C_ORDER2", "C_ORDER3")


def test_a_result_goes_out_before_older_news_of_other_jobs(
    stack: Stack, slack: SlackSandbox
) -> None:
    client = make_client(TOKEN, slack.api_url, patient=False)
    notifier = SlackNotifier(client, kinds=stack.kinds, budget=Budget(stack.parts.redis))
    for channel in CHANNELS:
        slack.add_channel(channel)
    first, second, third = (
        submit(stack.db, stack.kinds, "research", f"Question {n}", user="U1", channel=c).id
        for n, c in enumerate(CHANNELS)
    )
    with stack.db.unit() as unit:
        transition(
            unit.session,
            second,
            JobStatus.COMPLETED,
            actor="provider",
            action="finish",
            notice="completed",
        )
    with ThreadPoolExecutor(1) as executor:  # one job's news a tick, within Slack's budget
        wait_for(
            lambda: deliver_due(stack.db, notifier, executor, batch=1) and len(_cards(slack)) == 3,
            20,
            "the three cards were not posted",
        )
    cards = _cards(slack)
    assert [job_id_of(card) for card in cards] == [second, first, third]
    answered = [float(reply["ts"]) for reply in cards[0].get("replies") or []]
    assert answered and max(answered) < float(cards[1]["ts"])  # before the older news
    assert "Completed" in str(cards[0].get("text"))


def _cards(slack: SlackSandbox) -> list[dict[str, Any]]:
    """The cards of every channel, in the order they were posted (the stand-in's ts)."""
    return sorted((c for ch in CHANNELS for c in slack.cards(ch)), key=lambda c: float(c["ts"]))


def test_a_result_in_a_busy_channel_goes_before_the_cards_of_newer_jobs(
    stack: Stack, slack: SlackSandbox
) -> None:
    """Slack allows about one post a second in a channel. Newer jobs' cards that were already
    waiting for that budget must not take every post there while a result waits."""
    client = make_client(TOKEN, slack.api_url, patient=False)
    notifier = SlackNotifier(client, kinds=stack.kinds, budget=Budget(stack.parts.redis))
    channel = "C_BUSY"
    slack.add_channel(channel)
    asked = submit(stack.db, stack.kinds, "research", "First", user="U1", channel=channel).id
    with ThreadPoolExecutor(8) as executor:
        tick = lambda: deliver_due(stack.db, notifier, executor) and False  # noqa: E731
        wait_for(lambda: tick() or len(slack.cards(channel)) == 1, 20, "no first card")
        newer = [
            submit(stack.db, stack.kinds, "research", f"Next {n}", user="U1", channel=channel).id
            for n in range(5)
        ]
        tick()  # the channel's budget is spent on them, and the rest wait for it
        with stack.db.unit() as unit:
            transition(
                unit.session, asked, JobStatus.COMPLETED, actor="provider", action="finish",
                notice="completed",
            )  # fmt: skip
        done = lambda: len(slack.cards(channel)) == 6 and _answered(slack, channel, asked)  # noqa: E731
        wait_for(lambda: tick() or done(), 40, "the cards and the result were not all posted")
    answered = _answered(slack, channel, asked)
    cards = {job_id_of(card): float(card["ts"]) for card in slack.cards(channel)}
    ahead = [job_id for job_id in newer if cards[job_id] < answered]
    assert len(ahead) <= 3, f"{len(ahead)} of 5 newer cards went out before the result"


def _answered(slack: SlackSandbox, channel: str, job_id: str) -> float:
    """When the job's result went into its thread (0.0: not yet)."""
    [card] = [c for c in slack.cards(channel) if job_id_of(c) == job_id]
    return min((float(reply["ts"]) for reply in card.get("replies") or []), default=0.0)
