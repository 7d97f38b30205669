"""Faults the job core survives: each test names the fault and checks no job lost, none
doubled, and nothing paid for unseen (the provider's create is not idempotent: a create cut
off by a fault may have made a response, which its webhook reveals)."""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from typing import Any

import pytest
import redis
from sqlalchemy import select

from models.errors import TransitionRefused
from models.job import Attempt, Job, Notice
from models.store.stops import request_cancel
from models.store.submission import submit
from tests.support.ledger import assert_paid_once
from tests.support.procs import session_alive, wait_for
from tests.support.services import restart_postgres
from tests.support.slack import BotProcess
from tests.support.stack import Stack
from tests.support.webhooks import wire

# The fault suite runs where production runs many workers: on PostgreSQL.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _submit_many(stack: Stack, count: int, directive: str) -> list[str]:
    return [
        submit(stack.db, stack.kinds, "research", f"Question {n} {directive}", user="U_F").id
        for n in range(count)
    ]


def _started(stack: Stack, ids: list[str]) -> int:
    with stack.db.unit() as unit:
        return len(
            list(
                unit.session.scalars(
                    select(Attempt.id).where(
                        Attempt.job_id.in_(ids), Attempt.response_id.is_not(None)
                    )
                )
            )
        )


def _assert_each_once(stack: Stack, ids: list[str]) -> None:
    """Every job completed once, following one provider response, with at most two creates
    per attempt and no response orphaned (`tests.support.ledger`)."""
    with stack.db.unit() as unit:
        rows = unit.session.execute(select(Job.id, Job.status).where(Job.id.in_(ids)))
        statuses = {job_id: status for job_id, status in rows}
        notices = list(
            unit.session.scalars(
                select(Notice).where(Notice.job_id.in_(ids), Notice.milestone == "completed")
            )
        )
    assert set(statuses.values()) == {"completed"}, statuses
    assert sorted(n.job_id for n in notices) == sorted(ids)
    for job_id in ids:
        assert_paid_once(stack, job_id)


def test_kill_9_every_worker_while_starting_running_and_finishing(
    hooked: Stack, bot: BotProcess
) -> None:
    stack = hooked
    wire(stack, bot)
    stack.env.update({"ERRAND_START_LEASE": "3", "ERRAND_CREATE_UNKNOWN_WAIT": "6"})
    stack.openai.fault(endpoint="create", delay=0.5, count=10)
    ids = _submit_many(stack, 30, "[sandbox: duration=3]")
    for moment in (1.0, 3.0, 5.0):
        killed = [stack.start_worker(), stack.start_worker()]
        time.sleep(moment)
        stack.stop_workers(kill=True)
        wait_for(
            lambda killed=killed: not any(session_alive(w) for w in killed),
            5,
            "a killed worker left a process behind",
        )
    stack.start_worker()
    stack.wait_settled(ids, timeout=120)
    _assert_each_once(stack, ids)


def test_sigterm_lets_a_worker_finish_its_step_and_leave(stack: Stack) -> None:
    """A deploy's SIGTERM mid-load: the worker ends its tick and exits, leaving no
    process behind; the next worker finds nothing half-done."""
    ids = _submit_many(stack, 30, "[sandbox: duration=2]")
    leaving = stack.start_worker()
    wait_for(lambda: _started(stack, ids) >= 10, 60, "jobs did not start")
    leaving.send_signal(signal.SIGTERM)
    assert leaving.wait(timeout=30) == 0
    wait_for(lambda: not session_alive(leaving), 10, "the worker left a process behind")
    stack.start_worker()
    stack.wait_settled(ids, timeout=90)
    _assert_each_once(stack, ids)


def test_sigterm_landing_on_any_thread_of_a_worker_stops_it(stack: Stack) -> None:
    """The kernel may hand a process's SIGTERM to any of its threads, and Python runs the
    handler on the main thread only, once it leaves what it waits in: a quiet worker's
    main thread waits on Redis for the next task. Another of its threads gets it."""
    ids = _submit_many(stack, 3, "[sandbox: duration=1]")
    worker = stack.start_worker()
    stack.wait_settled(ids, timeout=30)
    tids = sorted(int(t) for t in os.listdir(f"/proc/{worker.pid}/task"))
    thread = tids[-1]  # the newest: a pool thread of a pulse, never the main one
    assert thread != worker.pid
    _signal_thread(worker.pid, thread, signal.SIGTERM)
    assert worker.wait(timeout=20) == 0


def _signal_thread(pid: int, tid: int, signum: int) -> None:
    """tgkill(2): a signal for one thread of another process, as the kernel may pick."""
    if ctypes.CDLL(None, use_errno=True).tgkill(pid, tid, signum) != 0:
        raise OSError(ctypes.get_errno(), "tgkill failed")


def test_redis_flushed_with_50_jobs_in_flight(stack: Stack) -> None:
    ids = _submit_many(stack, 50, "[sandbox: duration=4]")
    stack.start_worker()
    wait_for(lambda: _started(stack, ids) >= 40, 60, "jobs did not start")
    redis.Redis.from_url(stack.env["REDIS_URL"]).flushdb()
    stack.wait_settled(ids, timeout=90)
    _assert_each_once(stack, ids)


@pytest.mark.exclusive
def test_postgres_restarted_during_load(hooked: Stack, bot: BotProcess) -> None:
    """A real server restart mid-load: worker and bot carry on without restarts of their own."""
    stack = hooked
    wire(stack, bot)
    stack.env["ERRAND_CREATE_UNKNOWN_WAIT"] = "6"
    ids = _submit_many(stack, 20, "[sandbox: duration=3]")
    stack.start_worker()
    wait_for(lambda: _started(stack, ids) >= 5, 30, "jobs did not start")
    restart_postgres()
    stack.db.engine.dispose()
    stack.wait_settled(ids, timeout=90)
    _assert_each_once(stack, ids)
    assert all(w.poll() is None for w in stack.workers), "a worker died instead of recovering"
    wait_for(lambda: bot.healthz().status_code == 200, 30, "the bot did not recover")
    assert bot.command("/research", "After the restart [sandbox: duration=1]").status_code == 200
    wait_for(lambda: bot.slack.cards("C_GENERAL"), 30, "the bot could not create a job")


def _breaker(stack: Stack) -> dict[str, Any]:
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    return {"tripped": client.get("errand:breaker:tripped")}


def test_provider_outage_opens_breaker_holds_launches_then_resumes_by_priority(
    stack: Stack,
) -> None:
    stack.env["ERRAND_BREAKER_COOLDOWN"] = "3"
    # Refusals that made nothing (429): a 5xx to a create may have made a response, so it
    # is tried at most twice per attempt (tests/test_honest_start.py).
    stack.openai.fault(endpoint="create", status=429, count=12)
    stack.openai.fault(endpoint="retrieve", status=500, count=4)
    stack.start_worker()
    first = _submit_many(stack, 3, "[sandbox: duration=1]")
    wait_for(lambda: _breaker(stack)["tripped"], 30, "the breaker never opened")
    held = _submit_many(stack, 3, "[sandbox: duration=1]")
    urgent = submit(stack.db, stack.kinds, "draft", "Urgent [sandbox: duration=1]", user="U_F").id
    wait_for(
        lambda: stack.show(held[0])["error"] is None and _wait_reason(stack, held[0]),
        20,
        "waiting jobs were not told why",
    )
    stack.wait_settled([*first, *held, urgent], timeout=120)
    assert not _breaker(stack)["tripped"]
    assert {stack.status(j) for j in [*first, *held]} == {"completed"}
    assert stack.status(urgent) == "needs_review"
    assert _started_at(stack, urgent) <= min(_started_at(stack, j) for j in held)


def _wait_reason(stack: Stack, job_id: str) -> str | None:
    with stack.db.unit() as unit:
        return unit.session.scalar(select(Job.wait_reason).where(Job.id == job_id))


def _started_at(stack: Stack, job_id: str) -> float:
    with stack.db.unit() as unit:
        started = unit.session.scalar(select(Attempt.started_at).where(Attempt.job_id == job_id))
    assert started is not None
    return started.timestamp()


def test_concurrent_cancels_record_one_action(stack: Stack) -> None:
    stack.start_worker()
    job_id = submit(stack.db, stack.kinds, "research", "Slow [sandbox: slow]", user="U_F").id
    stack.wait_status(job_id, "running")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def click() -> None:
        barrier.wait()
        try:
            outcomes.append(request_cancel(stack.db, stack.parts.dispatch, job_id, actor="U_F"))
        except TransitionRefused:  # a click after the worker already finished the cancel
            outcomes.append("already canceled")

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("canceling") == 1
    assert set(outcomes) - {"canceling"} <= {"already canceling", "already canceled"}
    stack.wait_status(job_id, "canceled")
    actions = [e["action"] for e in stack.show(job_id)["events"]]
    assert actions.count("cancel_requested") == 1
