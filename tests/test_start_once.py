"""Start-once against a provider whose create is not idempotent (OpenAI documents no
Idempotency-Key, and the stand-in ignores it): a worker killed around a create costs at
most the attempt's two creates, the job follows one response, and any other is found
through its webhook, then taken by its attempt or cancelled: never orphaned."""

from __future__ import annotations

import time

import pytest

from models.store.submission import submit
from tests.support.ledger import assert_paid_once, stored
from tests.support.procs import wait_for
from tests.support.slack import BotProcess
from tests.support.stack import Stack
from tests.support.webhooks import wire


def _submit(stack: Stack, text: str) -> str:
    return submit(stack.db, stack.kinds, "research", text, user="U_TEST").id


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_worker_killed_during_create_leaves_one_followed_response(
    hooked: Stack, bot: BotProcess
) -> None:
    stack = hooked
    wire(stack, bot)
    stack.env.update({"ERRAND_START_LEASE": "3", "ERRAND_CREATE_UNKNOWN_WAIT": "4"})
    stack.openai.fault(endpoint="create", delay=2.0, count=1)
    stack.start_worker()
    job_id = _submit(stack, "Kill me mid-create [sandbox: duration=1]")
    wait_for(lambda: stack.openai.stats()["calls"]["create"] >= 1, 20, "no create call arrived")
    stack.stop_workers(kill=True)
    time.sleep(2.5)  # the provider makes the response its caller never hears of
    assert len(stack.openai.responses_for(job_id)) == 1
    stack.start_worker()
    stack.wait_status(job_id, "completed", timeout=60)
    assert_paid_once(stack, job_id)
    assert [e["action"] for e in stored(stack, job_id)["events"]].count("started") == 1
    assert stack.openai.stats()["duplicate_creates"] == 0  # the key is never relied on


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_worker_killed_after_create_before_recording_orphans_nothing(
    hooked: Stack, bot: BotProcess
) -> None:
    stack = hooked
    wire(stack, bot)
    stack.env.update({"ERRAND_START_LEASE": "3", "ERRAND_CREATE_UNKNOWN_WAIT": "4"})
    stack.start_worker()
    ids = [_submit(stack, f"Job {n} [sandbox: duration=2]") for n in range(5)]
    wait_for(lambda: stack.openai.stats()["responses_created"] >= 2, 20, "no creates")
    stack.stop_workers(kill=True)
    stack.start_worker()
    stack.wait_settled(ids, timeout=90)
    for job_id in ids:
        assert stack.status(job_id) == "completed"
        assert_paid_once(stack, job_id)
