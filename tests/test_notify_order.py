"""When news backs up, results go out first; the rest keeps its oldest-first order."""

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
