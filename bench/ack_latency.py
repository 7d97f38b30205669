"""Ack latency of signed slash commands: the bot under 20 concurrent senders.

Prints figures, never pass/fail:
    .venv/bin/python -m bench.ack_latency --requests 500 --concurrency 20
Runs its own `errand bot` (gunicorn, as in production) against the Slack stand-in, with
its own PostgreSQL database (ERRAND_BENCH_PG) and Redis DB 9 (ERRAND_BENCH_REDIS). No
worker: the jobs stay queued; only the answer to Slack is timed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import redis
from sqlalchemy import create_engine, func, select

from bench.common import (
    REDIS,
    SLACK_SECRET,
    SLACK_TOKEN,
    machine,
    machine_busy_seconds,
    own_database,
    pct,
    start_bot,
    start_slack,
    stop,
    tree_cpu_seconds,
)
from models.job import Job
from models.migrate import upgrade
from sandbox import slack_signing as signing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--multiproc", action="store_true", help="PROMETHEUS_MULTIPROC_DIR set: 2 bot processes"
    )
    args = parser.parse_args()
    with own_database() as url:
        print(json.dumps(run(url, args.requests, args.concurrency, args.multiproc), indent=2))


def run(url: str, requests: int, concurrency: int, multiproc: bool) -> dict[str, object]:
    upgrade(url)
    redis.Redis.from_url(REDIS).flushdb()
    work = Path(tempfile.mkdtemp(prefix="errand-bench-ack-"))
    slack, slack_url = start_slack(work)
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": REDIS,
        "OPENAI_API_KEY": "sk-bench",
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_API_URL": slack_url + "/api/",
        "ERRAND_LOG_LEVEL": "WARNING",
    }
    if multiproc:
        (work / "metrics").mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(work / "metrics")
    bot, bot_url = start_bot(env, work)
    try:
        bodies = [_body(slack_url, n) for n in range(requests + concurrency)]
        _send(bot_url, bodies[:concurrency], concurrency)  # warm-up, not counted
        began, cpu, busy = time.monotonic(), tree_cpu_seconds(bot.pid), machine_busy_seconds()
        latencies, statuses = _send(bot_url, bodies[concurrency:], concurrency)
        elapsed, busy = time.monotonic() - began, machine_busy_seconds() - busy
        recorded, behind = _jobs_recorded(url, len(bodies))
        cpu = tree_cpu_seconds(bot.pid) - cpu  # the work after the acks included
    finally:
        stop(bot, slack)
    ms = [x * 1000 for x in latencies]
    return {
        "requests": requests,
        "concurrency": concurrency,
        "bot_processes": 2 if multiproc else 1,
        "ok": sum(1 for s in statuses if s == 200),
        "ack_ms_p50": pct(ms, 0.5),
        "ack_ms_p99": pct(ms, 0.99),
        "ack_ms_max": pct(ms, 1.0),
        "requests_per_s": round(requests / elapsed, 1),
        "jobs_recorded": recorded,
        "last_job_recorded_s_after_last_ack": behind,
        "bot_cpu_ms_per_request": round(1000 * cpu / requests, 2),
        "machine_cpu_busy_pct_while_sending": round(100 * busy / (elapsed * CPUS), 1),
        "machine": machine(),
    }


_control = httpx.Client(timeout=10)
CPUS = os.cpu_count() or 1
SENDER_PROCESSES = 4


def _jobs_recorded(url: str, wanted: int, timeout: float = 120) -> tuple[int, float]:
    """The work after the ack: how many jobs exist, and how long after the last ack."""
    engine = create_engine(url)
    began = time.monotonic()
    count = 0
    with engine.connect() as connection:
        while time.monotonic() - began < timeout:
            count = connection.execute(select(func.count()).select_from(Job)).scalar_one()
            connection.rollback()
            if count >= wanted:
                break
            time.sleep(0.05)
    engine.dispose()
    return count, round(time.monotonic() - began, 2)


def _body(slack_url: str, n: int) -> bytes:
    user, channel = f"U_BENCH{n % 50}", "C_GENERAL"
    control = slack_url + "/_sandbox"
    response_url = _control.post(
        control + "/response_urls", json={"channel_id": channel, "user_id": user}
    ).json()["response_url"]
    trigger = _control.post(control + "/triggers", json={"user_id": user}).json()["trigger_id"]
    return signing.slash_command_body(
        "/research", f"Bench question {n}", user, channel, response_url, trigger
    )


def _send(url: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], list[int]]:
    """`concurrency` senders spread over a few processes, so the client's own GIL does
    not queue answers that the bot has already sent."""
    processes = min(SENDER_PROCESSES, concurrency)
    groups = [bodies[i::processes] for i in range(processes)]
    threads = [len(range(i, concurrency, processes)) for i in range(processes)]
    latencies: list[float] = []
    statuses: list[int] = []
    with ProcessPoolExecutor(processes, mp_context=get_context("fork")) as pool:
        for times, codes in pool.map(_send_threads, [url] * processes, groups, threads):
            latencies += times
            statuses += codes
    return latencies, statuses


def _send_threads(url: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    shares = [bodies[i::concurrency] for i in range(concurrency)]

    def sender(share: list[bytes]) -> None:
        address = urlsplit(url)
        connection = http.client.HTTPConnection(address.netloc, timeout=30)
        for body in share:
            headers = signing.form_headers(body, SLACK_SECRET)
            started = time.perf_counter()
            connection.request("POST", "/slack/events", body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                statuses.append(answer.status)
        connection.close()

    workers = [threading.Thread(target=sender, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies, statuses


if __name__ == "__main__":
    main()
