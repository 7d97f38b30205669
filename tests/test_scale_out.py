"""Errand on many machines: two bots behind a real load balancer, three workers, PostgreSQL.

Thirty /research commands, signed as Slack signs them, go through HAProxy while one
bot and then one worker are killed with SIGKILL. Every command is answered, and every
job completes once: one response at the provider, one status card and one result
message in Slack. The provider's webhooks come through the balancer too, as they would
on many machines: they are what reveals a response whose create call the killed worker
sent but never heard answered (the provider's create is not idempotent, and without
webhooks that attempt is created once more after ERRAND_CREATE_UNKNOWN_WAIT). Only
Errand's outside interfaces are used (its CLI, the bot's HTTP endpoints) and the
stand-ins' control APIs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.balancer import haproxy_binary, start_balancer
from tests.support.procs import free_port, spawn, stop, wait_for, wait_http
from tests.support.slack import SECRET, TOKEN, BotProcess, SlackSandbox, job_id_of
from tests.support.stack import Stack
from tests.support.webhooks import SECRET as WEBHOOK_SECRET
from tests.support.webhooks import hook

pytestmark = [
    pytest.mark.exclusive,  # six Errand processes and a balancer: too many beside other tests
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

JOBS = 30
KILL_BOT_AFTER = 10  # answers received before one bot is killed, with commands in flight
KILL_WORKER_AFTER = 10  # jobs started at the provider before one worker is killed
STARTED = re.compile(r"Started your research job `([A-Z0-9]+)`")
CHANNEL = "C_GENERAL"


def slack_settings(stack: Stack, slack: SlackSandbox) -> None:
    """What the bots and the workers need to reach the Slack stand-in."""
    stack.env.update(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
        }
    )


def start_bot(stack: Stack, index: int) -> tuple[str, subprocess.Popen[bytes]]:
    """`errand bot --port N`, as on a machine of its own; returns host:port and the process."""
    port = free_port()
    log = stack.logs / f"bot{index}.log"
    process = spawn(["-m", "errand.cli", "bot", "--port", str(port)], stack.env, log)
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
    return f"127.0.0.1:{port}", process


def kill_machine(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process and everything it started (a bot's gunicorn workers), as if its
    machine died; `spawn` gave it a session of its own."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def submit_all(front: BotProcess, kill_bot: subprocess.Popen[bytes]) -> list[httpx.Response]:
    """The commands, three at a time; one bot dies once KILL_BOT_AFTER are answered."""
    answered = threading.Semaphore(0)

    def one(n: int) -> httpx.Response:
        try:
            return front.command("/research", f"Question {n} [sandbox: duration=4]")
        finally:
            answered.release()

    def killer() -> None:
        for _ in range(KILL_BOT_AFTER):
            answered.acquire()
        kill_machine(kill_bot)

    threading.Thread(target=killer, daemon=True).start()
    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(one, range(JOBS)))


def jobs_listed(stack: Stack) -> list[dict[str, Any]]:
    """`errand jobs list --json`, as an operator reads it."""
    result = stack.cli("jobs", "list", "--json", "--limit", str(JOBS * 2))
    assert result.returncode == 0, result.stderr
    listed: list[dict[str, Any]] = json.loads(result.stdout)
    return listed


def started(stack: Stack) -> int:
    """Responses created at the provider stand-in so far."""
    count: int = stack.openai.stats()["responses_created"]
    return count


def results_in(slack: SlackSandbox) -> int:
    """Status cards with their result in the thread."""
    return sum(bool(result_messages(card, job_id_of(card))) for card in slack.cards(CHANNEL))


def all_completed(stack: Stack, ids: set[str]) -> bool:
    return {j["id"]: j["status"] for j in jobs_listed(stack)} == dict.fromkeys(ids, "completed")


def result_messages(card: dict[str, Any], job_id: str) -> int:
    return sum(f"Result of job {job_id}" in str(r.get("text")) for r in card.get("replies") or [])


def test_two_bots_behind_a_balancer_and_three_workers_lose_one_of_each(
    stack: Stack, slack: SlackSandbox, tmp_path: Path
) -> None:
    haproxy_binary()  # skip early when there is no balancer to test with
    slack_settings(hook(stack), slack)
    bots = [start_bot(stack, i) for i in range(2)]
    balancer = start_balancer([address for address, _ in bots], tmp_path)
    webhooks = f"{balancer.url}/openai/webhook"
    stack.openai.configure(webhook_url=webhooks, webhook_secret=WEBHOOK_SECRET)
    try:
        for _ in range(3):
            stack.start_worker()
        front = BotProcess(balancer.url, slack, bots[0][1])
        wait_for(lambda: front.healthz().status_code == 200, 30, "the balancer has no bot")

        answers = submit_all(front, kill_bot=bots[0][1])
        assert [a.status_code for a in answers] == [200] * JOBS, [a.text for a in answers]
        ids = {STARTED.search(a.json()["text"]).group(1) for a in answers}  # type: ignore[union-attr]
        assert len(ids) == JOBS, "a command made no job, or two commands one"

        wait_for(lambda: started(stack) >= KILL_WORKER_AFTER, 90, "jobs did not start")
        kill_machine(stack.workers[0])  # the oldest: likely holding pulse leases too

        wait_for(lambda: results_in(slack) >= JOBS, 180, "results did not all reach Slack", every=1)
        wait_for(lambda: all_completed(stack, ids), 30, "jobs did not all complete", every=2)
        assert_each_once(stack, slack, ids)
    finally:
        balancer.stop()
        for _, process in bots:
            stop(process)


def assert_each_once(stack: Stack, slack: SlackSandbox, ids: set[str]) -> None:
    """One provider response, one status card and one result message per job."""
    cards = slack.cards(CHANNEL)
    carded = sorted(job_id_of(card) for card in cards)
    assert carded == sorted(ids), "a job has no status card, or more than one"
    for card in cards:
        job_id = job_id_of(card)
        assert result_messages(card, job_id) == 1, job_id
        assert len(stack.openai.responses_for(job_id)) == 1, job_id
