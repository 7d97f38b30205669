"""OpenAI webhooks: a signed delivery finishes the job at once; forged, repeated and
out-of-order deliveries change nothing."""

from __future__ import annotations

import base64
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from rq import Queue
from sqlalchemy import func, select

from errand.wiring import worker_context
from models.job import Event, Job, Notice
from models.store.observations import Applied, apply_observation
from models.store.submission import submit
from sandbox.openai_webhooks import Delivery, signed_headers
from tests.support.client import HTTP
from tests.support.procs import wait_for
from tests.support.slack import BotProcess
from tests.support.stack import Stack
from worker import launch
from worker.answers import observation
from worker.context import Context
from worker.dispatch import QUEUES

SECRET = "whsec_" + base64.b64encode(b"errand-tests-webhook-secret-0001").decode()
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def hooked(stack: Stack) -> Stack:
    """The stack with OPENAI_WEBHOOK_SECRET set (before the bot starts)."""
    stack.env["OPENAI_WEBHOOK_SECRET"] = SECRET
    return stack


def _wire(stack: Stack, bot: BotProcess) -> None:
    """The provider stand-in delivers signed webhooks to the bot."""
    stack.openai.configure(webhook_url=f"{bot.url}/openai/webhook", webhook_secret=SECRET)


def _deliver(
    bot: BotProcess,
    response_id: str,
    *,
    kind: str = "response.completed",
    event_id: str | None = None,
    secret: str = SECRET,
    sent_at: float | None = None,
) -> httpx.Response:
    event_id = event_id or f"evt_{secrets.token_hex(8)}"
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "created_at": int(time.time()),
            "type": kind,
            "data": {"id": response_id},
        }
    )
    delivery = Delivery(f"{bot.url}/openai/webhook", secret, event_id, body)
    headers = signed_headers(delivery, sent_at or time.time())
    return HTTP.post(f"{bot.url}/openai/webhook", content=body, headers=headers, timeout=5)


def _submit(stack: Stack, text: str) -> str:
    return submit(stack.db, stack.kinds, "research", text, user="U_TEST").id


def _response(stack: Stack, job_id: str) -> dict[str, Any]:
    [response] = stack.openai.responses_for(job_id)
    return response


def _history(stack: Stack, job_id: str) -> tuple[list[tuple[str, str | None]], int]:
    with stack.db.unit() as unit:
        events = unit.session.execute(
            select(Event.action, Event.to_status).where(Event.job_id == job_id).order_by(Event.id)
        ).all()
        notices = unit.session.scalar(
            select(func.count()).select_from(Notice).where(Notice.job_id == job_id)
        )
    return [(a, s) for a, s in events], int(notices or 0)


def _started_at(stack: Stack, job_id: str) -> float:
    """When the worker stored the create answer (the response ID)."""
    with stack.db.unit() as unit:
        job = unit.session.get_one(Job, job_id)
        assert job.started_at is not None
        return job.started_at.timestamp()


def _finished_at(stack: Stack, job_id: str) -> float:
    with stack.db.unit() as unit:
        job = unit.session.get_one(Job, job_id)
        assert job.finished_at is not None
        return job.finished_at.timestamp()


@SQLITE
def test_signed_delivery_finishes_the_job_before_any_poll(hooked: Stack, bot: BotProcess) -> None:
    _wire(hooked, bot)
    hooked.start_worker()
    job_id = _submit(hooked, "Quick question [sandbox: duration=3]")
    hooked.wait_status(job_id, "completed", timeout=20)
    response = _response(hooked, job_id)
    # With webhooks on, the first poll is 60 s after the start (kind.webhook_follow):
    # finishing well before it means the delivery did it (how fast is bench/'s matter;
    # on a quiet machine it is a fraction of a second).
    assert _finished_at(hooked, job_id) - response["completed_at"] < 10.0
    assert response["calls"]["retrieve"] <= 2
    assert hooked.openai.stats()["webhooks"]["delivered"] >= 1


@SQLITE
def test_forged_or_stale_delivery_is_refused_and_nothing_happens(
    hooked: Stack, bot: BotProcess
) -> None:
    forged = "whsec_" + base64.b64encode(b"not-the-secret-not-the-secret-00").decode()
    assert _deliver(bot, "resp_forged", secret=forged).status_code == 400
    assert _deliver(bot, "resp_stale", sent_at=time.time() - 600).status_code == 400
    unsigned = HTTP.post(f"{bot.url}/openai/webhook", content=b"{}", timeout=5)
    assert unsigned.status_code == 400
    redis = hooked.parts.redis
    assert all(Queue(name, connection=redis).count == 0 for name in QUEUES)
    assert not redis.keys("rq:job:*")
    scraped = HTTP.get(f"{bot.url}/metrics", timeout=5).text
    assert 'errand_webhook_deliveries_total{outcome="bad_signature"} 3.0' in scraped


@SQLITE
def test_a_delivery_before_the_create_answers_finishes_the_job_at_once(
    hooked: Stack, bot: BotProcess
) -> None:
    """The provider finishes, and its webhook arrives, before its create answer does: the
    response is taken from the webhook (its metadata names the job and the attempt)."""
    _wire(hooked, bot)
    # Long enough that a loaded machine still looks before the create answer lands.
    hooked.openai.fault(endpoint="create", answer_delay=8.0)
    hooked.start_worker()
    job_id = _submit(hooked, "Quick question [sandbox: duration=0.5]")
    hooked.wait_status(job_id, "completed", timeout=25)
    response = _response(hooked, job_id)
    # Finished before the create's answer came, not at it, nor at the 60 s safety-net poll.
    assert _finished_at(hooked, job_id) < response["created_at"] + 8.0
    assert hooked.show(job_id)["provider_response_id"] == response["id"]
    assert hooked.openai.stats()["calls"]["retrieve"] == 1
    # The late answer names the response already taken: nothing changes.
    time.sleep(max(0.0, response["created_at"] + 9.0 - time.time()))
    assert [e["action"] for e in hooked.show(job_id)["events"]].count("started") == 1
    assert hooked.openai.job(job_id)["made"] == 1


@SQLITE
def test_repeated_and_out_of_order_deliveries_change_nothing(
    hooked: Stack, bot: BotProcess
) -> None:
    _wire(hooked, bot)
    hooked.start_worker()
    job_id = _submit(hooked, "A question [sandbox: duration=12]")
    wait_for(lambda: hooked.show(job_id)["provider_response_id"], 10, "never started")
    response_id = _response(hooked, job_id)["id"]
    # Early: a delivery that overtakes the provider changes nothing; the job runs on.
    assert _deliver(bot, response_id).status_code == 202
    time.sleep(1.0)
    status = hooked.status(job_id)
    # Read after the job: the provider still running then means the job was read early too.
    early = _response(hooked, job_id)["status"] in ("queued", "in_progress")
    assert early, "the provider finished before the check, so the delivery was not early"
    assert status in ("queued", "running")
    hooked.wait_status(job_id, "completed", timeout=30)
    before = _history(hooked, job_id)
    # Repeated (same webhook-id) and late, contradicting (a new id, another type): the
    # job has settled, so there is nothing left to check and nothing is queued.
    repeat = f"evt_{secrets.token_hex(6)}"
    assert _deliver(bot, response_id, event_id=repeat).status_code == 204
    assert _deliver(bot, response_id, event_id=repeat).status_code == 204
    assert _deliver(bot, response_id, kind="response.cancelled").status_code == 204
    assert _deliver(bot, response_id, kind="response.failed").status_code == 204
    time.sleep(1.5)
    assert hooked.status(job_id) == "completed"
    assert _history(hooked, job_id) == before
    finishes = [e for e in before[0] if e[0] == "finish"]
    assert finishes == [("finish", "completed")]


def test_a_second_finish_is_a_no_op(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """Two finishes racing on one answer: the compare-and-set lets exactly one through."""
    monkeypatch.setenv("OPENAI_BASE_URL", stack.openai.base_url)
    ctx = worker_context(stack.parts)
    job_id = _submit(stack, "Race me [sandbox: duration=1 queue=0]")
    with ThreadPoolExecutor(4) as pool:
        assert launch.launch_due(ctx, pool) == 1
    response_id = _response(stack, job_id)["id"]
    wait_for(lambda: ctx.provider.retrieve(response_id).status == "completed", 10, "not done")
    answer = ctx.provider.retrieve(response_id)
    with ThreadPoolExecutor(2) as pool:
        applied = list(pool.map(lambda _: _observe(ctx, answer), range(2)))
    assert all(a is not None and a.terminal for a in applied)
    once = _history(stack, job_id)
    _observe(ctx, answer)
    assert _history(stack, job_id) == once
    assert [e for e in once[0] if e[0] == "finish"] == [("finish", "completed")]
    assert stack.status(job_id) == "completed"


def _observe(ctx: Context, answer: Any) -> Applied | None:
    """What the follow pulse does with a retrieved answer, in a transaction of its own."""
    with ctx.db.unit() as unit:
        return apply_observation(unit.session, ctx.kinds, observation(answer), webhooks=False)
