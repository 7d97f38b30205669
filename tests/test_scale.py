"""One worker process follows 600 background responses, many at once, to completion.

The 2,000- and 5,000-job figures come from `bench/follow_capacity.py`; this keeps CI short.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.job import Attempt, Job
from models.store.submission import submit
from tests.support.procs import ROOT, wait_for
from tests.support.stack import Stack

JOBS = 600


def _count(stack: Stack, *statuses: str) -> int:
    with stack.db.unit() as unit:
        return int(
            unit.session.scalar(
                select(func.count()).select_from(Job).where(Job.status.in_(statuses))
            )
            or 0
        )


def _started(stack: Stack) -> int:
    with stack.db.unit() as unit:
        return int(
            unit.session.scalar(
                select(func.count()).select_from(Attempt).where(Attempt.response_id.is_not(None))
            )
            or 0
        )


def _running_at_the_provider(stack: Stack) -> int:
    with stack.db.unit() as unit:
        return int(
            unit.session.scalar(
                select(func.count())
                .select_from(Attempt)
                .where(Attempt.response_id.is_not(None), Attempt.finished_at.is_(None))
            )
            or 0
        )


class _Peak:
    """The most responses running at once, sampled while the test waits."""

    def __init__(self, stack: Stack) -> None:
        self.stack, self.value = stack, 0

    def sample(self) -> None:
        self.value = max(self.value, _running_at_the_provider(self.stack))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_worker_follows_600_jobs_many_at_once(stack: Stack) -> None:
    stack.openai.configure(duration_min=20.0, duration_max=25.0, queue_seconds=1.0)
    for n in range(JOBS):
        submit(stack.db, stack.kinds, "research", f"Question {n}", user="U_LOAD")
    began = time.monotonic()
    stack.start_worker()
    peak = _Peak(stack)
    # A worker behind on its checks launches less (worker.pressure): starting all
    # 600 take about half a minute here, longer on a busy machine.
    wait_for(lambda: peak.sample() or _started(stack) == JOBS, 240, "not every job started")
    started_all = time.monotonic() - began
    wait_for(
        lambda: peak.sample() or _count(stack, "completed") == JOBS,
        240,
        "not every job completed",
        every=1,
    )
    elapsed = time.monotonic() - began
    stats = stack.openai.stats()
    figures = {
        "jobs": JOBS,
        "workers": 1,
        "seconds_to_start_all": round(started_all, 1),
        "peak_running_at_once": peak.value,
        "seconds_to_complete_all": round(elapsed, 1),
        "provider_creates": stats["calls"]["create"],
        "provider_retrieves": stats["calls"]["retrieve"],
        "retrieves_per_job": round(stats["calls"]["retrieve"] / JOBS, 2),
    }
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    Path(out / "scale.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures))
    assert stats["responses_created"] == JOBS
    assert peak.value > JOBS // 4  # many ran at once: one worker does not take them in turn
    assert _count(stack, "failed", "canceled", "expired") == 0
