"""Launches scale with workers: every worker claims and starts queued jobs of its own at
the same time, and still no job's response is ever created twice."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.job import Attempt
from models.store.submission import submit
from tests.support.ledger import creates
from tests.support.procs import wait_for
from tests.support.stack import Stack

JOBS = 24
SLOW_CREATE = 3.0  # seconds the provider takes to answer each create
ROUND = 8  # creates one worker sends at once (worker.launch.AT_ONCE)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_launch_side_by_side_and_create_each_response_once(stack: Stack) -> None:
    stack.openai.fault(endpoint="create", delay=SLOW_CREATE, seconds=120)
    ids = [
        submit(stack.db, stack.kinds, "research", f"Q{n} [sandbox: duration=1]", user=f"U{n}").id
        for n in range(JOBS)
    ]
    for _ in range(2):  # started together, as a deployment's workers are
        stack.start_worker()
    wait_for(lambda: _started(stack) == JOBS, 60, "jobs did not all start")
    assert all(len(stack.openai.responses_for(j)) == 1 for j in ids), "a response made twice"
    assert all(len(creates(stack, j)) == 1 for j in ids)
    arrived = sorted(c["at"] for j in ids for c in creates(stack, j))
    first_round = sum(at < arrived[0] + SLOW_CREATE * 0.75 for at in arrived)
    assert first_round > ROUND, f"one worker at a time: {first_round} creates in the first round"


def _started(stack: Stack) -> int:
    """Attempts whose response Errand recorded."""
    with stack.db.unit() as unit:
        query = select(func.count()).select_from(Attempt).where(Attempt.response_id.is_not(None))
        return int(unit.session.scalar(query) or 0)
