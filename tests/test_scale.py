"""One worker process follows 2,000 concurrent background responses to completion."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from errand import jobs
from models.job import Attempt, Job
from tests.support.procs import ROOT, wait_for
from tests.support.stack import Stack

JOBS = 2000


def _count(stack: Stack, *statuses: str) -> int:
    with stack.runtime.unit() as unit:
        return int(
            unit.session.scalar(
                select(func.count()).select_from(Job).where(Job.status.in_(statuses))
            )
            or 0
        )


def _peak_in_flight(stack: Stack) -> int:
    with stack.runtime.unit() as unit:
        return int(
            unit.session.scalar(
                select(func.count()).select_from(Attempt).where(Attempt.response_id.is_not(None))
            )
            or 0
        )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_worker_follows_2000_concurrent_jobs(stack: Stack) -> None:
    stack.openai.configure(duration_min=40.0, duration_max=50.0, queue_seconds=1.0)
    for n in range(JOBS):
        jobs.submit(stack.runtime, "research", f"Question {n}", user="U_LOAD")
    began = time.monotonic()
    stack.start_worker()
    wait_for(lambda: _peak_in_flight(stack) == JOBS, 120, "not every job started")
    started_all = time.monotonic() - began
    assert _count(stack, "completed") < JOBS  # all 2,000 were in flight at once
    wait_for(lambda: _count(stack, "completed") == JOBS, 240, "not every job completed", every=1)
    elapsed = time.monotonic() - began
    stats = stack.openai.stats()
    figures = {
        "jobs": JOBS,
        "workers": 1,
        "seconds_to_start_all": round(started_all, 1),
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
    assert _count(stack, "failed", "canceled", "expired") == 0
