"""Results before starts: while a worker has a result in hand (a stream's end being
recorded, a result being posted), its launch rounds wait for it, never longer than a
moment, so launches go on while results flow."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from errand.wiring import worker_context
from models.notifier import LogNotifier, Milestone
from models.status import JobStatus
from models.store.lifecycle import transition
from models.store.submission import submit
from tests.support.stack import Stack
from worker import launch
from worker.notify import deliver_due
from worker.right_of_way import RightOfWay

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _hold(right_of_way: RightOfWay, release: threading.Event) -> threading.Thread:
    """A result in hand on another thread until `release` is set."""
    holding = threading.Event()

    def run() -> None:
        with right_of_way.result():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=run)
    thread.start()
    holding.wait(5)
    return thread


def test_a_launch_round_waits_until_the_results_in_hand_are_out() -> None:
    right_of_way, release = RightOfWay(longest=10), threading.Event()
    holders = [_hold(right_of_way, release) for _ in range(2)]
    waiter = threading.Thread(target=right_of_way.wait_clear)
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # two results in hand: the round waits
    release.set()
    waiter.join(5)
    assert not waiter.is_alive()
    for holder in holders:
        holder.join(5)


def test_launches_go_on_when_results_keep_coming() -> None:
    right_of_way, release = RightOfWay(longest=0.2), threading.Event()
    holder = _hold(right_of_way, release)
    waiter = threading.Thread(target=right_of_way.wait_clear)
    waiter.start()
    waiter.join(5)
    assert not waiter.is_alive()  # the wait has a bound, whatever is in hand
    release.set()
    holder.join(5)


@SQLITE
def test_a_worker_starts_no_job_while_it_has_a_result_in_hand(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", stack.openai.base_url)
    ctx = replace(worker_context(stack.parts), right_of_way=RightOfWay(longest=30))
    job_id = submit(stack.db, stack.kinds, "research", "Wait your turn", user="U_TEST").id
    release = threading.Event()
    holder = _hold(ctx.right_of_way, release)
    with ThreadPoolExecutor(1) as round_, ThreadPoolExecutor(4) as pool:
        started = round_.submit(launch.launch_due, ctx, pool)
        time.sleep(0.5)  # well inside the round's longest wait
        assert not started.done()
        assert stack.openai.responses_for(job_id) == []  # no create while the result is out
        release.set()
        assert started.result(10) == 1
    assert len(stack.openai.responses_for(job_id)) == 1
    holder.join(5)


class _Watching(LogNotifier):
    """The notifier the worker falls back to, noting for each milestone it tells whether a
    launch round would have waited for it (a round that waits is still alive after 0.3 s)."""

    def __init__(self, right_of_way: RightOfWay) -> None:
        self.right_of_way = right_of_way
        self.launches_waited: dict[str, bool] = {}

    def notify(self, milestone: Milestone) -> dict[str, object]:
        round_ = threading.Thread(target=self.right_of_way.wait_clear)
        round_.start()
        round_.join(0.3)
        self.launches_waited[milestone.name] = round_.is_alive()
        return super().notify(milestone)


@SQLITE
def test_launches_wait_while_a_result_is_posted_and_not_for_other_news(stack: Stack) -> None:
    job_id = submit(stack.db, stack.kinds, "research", "Done yet?", user="U_TEST").id
    with stack.db.unit() as unit:
        transition(
            unit.session, job_id, JobStatus.COMPLETED, actor="provider", action="finish",
            notice="completed",
        )  # fmt: skip
    notifier = _Watching(RightOfWay(longest=10))
    with ThreadPoolExecutor(2) as executor:
        deliver_due(stack.db, notifier, executor, right_of_way=notifier.right_of_way)
    assert notifier.launches_waited.get("completed") is True
    assert notifier.launches_waited.get("queued") is False
