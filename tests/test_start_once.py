"""Start is never doubled: a worker killed mid-create leaves one provider response per attempt."""

from __future__ import annotations

import time

import pytest

from tests.support.procs import wait_for
from tests.support.stack import Stack


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_worker_killed_during_create_leaves_one_response(stack: Stack) -> None:
    stack.env["ERRAND_START_LEASE"] = "3"
    stack.openai.fault(endpoint="create", delay=2.0, count=1)
    stack.start_worker()
    result = stack.cli("jobs", "submit", "research", "Kill me mid-create [sandbox: duration=1]")
    job_id = result.stdout.strip()
    wait_for(lambda: stack.openai.stats()["calls"]["create"] >= 1, 20, "no create call arrived")
    stack.stop_workers(kill=True)
    time.sleep(2.5)  # the provider finishes the create its caller never heard back from
    assert len(stack.openai.responses_for(job_id)) == 1
    stack.start_worker()
    stack.wait_status(job_id, "completed", timeout=60)
    shown = stack.show(job_id)
    [response] = stack.openai.responses_for(job_id)
    assert shown["provider_response_id"] == response["id"]
    assert stack.openai.stats()["duplicate_creates"] >= 1
    assert [e["action"] for e in shown["events"]].count("started") == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_worker_killed_after_create_before_recording_reuses_the_response(stack: Stack) -> None:
    stack.env["ERRAND_START_LEASE"] = "3"
    stack.start_worker()
    ids = [
        stack.cli("jobs", "submit", "research", f"Job {n} [sandbox: duration=2]").stdout.strip()
        for n in range(5)
    ]
    wait_for(lambda: stack.openai.stats()["responses_created"] >= 2, 20, "no creates")
    stack.stop_workers(kill=True)
    stack.start_worker()
    stack.wait_settled(ids, timeout=90)
    for job_id in ids:
        assert stack.status(job_id) == "completed"
        assert len(stack.openai.responses_for(job_id)) == 1
