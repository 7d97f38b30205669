"""A slow check holds up no other: a check that falls due while another hangs at the
provider runs on time. On PostgreSQL, where each check has its own transaction; on
SQLite a tick's checks share one, by design."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from models.job import Attempt
from models.store.submission import submit
from tests.support.procs import wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

HELD = 12.0  # seconds the provider holds one check of the long job


def _checks(stack: Stack, job_id: str) -> int:
    with stack.db.unit() as unit:
        return sum(unit.session.scalars(select(Attempt.checks).where(Attempt.job_id == job_id)))


def test_a_check_hanging_at_the_provider_holds_up_no_other(stack: Stack) -> None:
    stack.env["ERRAND_STREAMS_PER_WORKER"] = "0"  # every job polled: the checks are the subject
    stack.start_worker()
    long = submit(stack.db, stack.kinds, "research", "Long [sandbox: duration=60]", user="U").id
    wait_for(lambda: _checks(stack, long) >= 1, 30, "the long job was never checked")
    stack.openai.fault(endpoint="retrieve", delay=HELD, count=1)
    wait_for(
        lambda: not stack.openai.stats()["faults_pending"], 30, "the long job's check never came"
    )
    began = time.monotonic()
    quick = submit(
        stack.db, stack.kinds, "research", "Quick [sandbox: duration=0.5 queue=0]", user="U"
    ).id
    stack.wait_status(quick, "completed", timeout=HELD * 3)
    took = time.monotonic() - began
    assert took < HELD / 2, f"the quick job waited {took:.1f} s for the held check"
    assert _checks(stack, long) == 1  # the held check was still running all along
