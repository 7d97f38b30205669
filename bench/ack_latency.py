"""Ack latency of signed slash commands: the bot under 20 concurrent senders.

Prints figures, never pass/fail:
    .venv/bin/python -m bench.ack_latency --requests 500 --concurrency 20 \
        [--database sqlite] [--worker --in-flight 200]
Runs its own `errand bot` (gunicorn, as in production) against the Slack stand-in, with
its own database (PostgreSQL at ERRAND_BENCH_PG, or a fresh SQLite file as `errand run`
uses by default) and Redis DB 9 (ERRAND_BENCH_REDIS). Only the answer to Slack is timed.
Without --worker the jobs stay queued. With it, a worker runs against the OpenAI stand-in
while the commands arrive: it follows --in-flight jobs started before (answers within
2-8 s), launches the new ones and posts their results, so its writes contend with the
bot's as they do in `errand run`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from subprocess import Popen
from urllib.parse import urlsplit

import httpx
from sqlalchemy import create_engine, func, select

from bench.common import (
    SLACK_SECRET,
    errand_env,
    fresh_stand_ins,
    machine,
    machine_busy_seconds,
    own,
    pct,
    start_bot,
    stop,
    tree_cpu_seconds,
)
from models.db import Database
from models.job import Attempt, Job
from models.kinds import load_kinds
from models.store.submission import submit
from sandbox import slack_signing as signing
from sandbox.processes import spawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--multiproc", action="store_true", help="PROMETHEUS_MULTIPROC_DIR set: 2 bot processes"
    )
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--worker", action="store_true", help="a worker following jobs meanwhile")
    parser.add_argument(
        "--in-flight", type=int, default=200, help="with --worker: jobs running before the burst"
    )
    args = parser.parse_args()
    with own(args.database) as url:
        print(json.dumps(run(url, args), indent=2))


def run(url: str, args: argparse.Namespace) -> dict[str, object]:
    requests, concurrency = args.requests, args.concurrency
    stand_ins = fresh_stand_ins(url, "ack", (2.0, 8.0))
    work, slack_url = stand_ins.work, stand_ins.slack_url
    env = {**errand_env(url, stand_ins.openai_url, slack_url), "ERRAND_LOG_LEVEL": "WARNING"}
    if args.multiproc:
        (work / "metrics").mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(work / "metrics")
    bot, bot_url = start_bot(env, work)
    others = [stand_ins.openai, stand_ins.slack]
    before = 0
    try:
        if args.worker:
            others.insert(0, _worker_following(url, env, work, args.in_flight))
            before = args.in_flight
        bodies = [_body(slack_url, n) for n in range(requests + concurrency)]
        _send(bot_url, bodies[:concurrency], concurrency)  # warm-up, not counted
        began, cpu, busy = time.monotonic(), tree_cpu_seconds(bot.pid), machine_busy_seconds()
        latencies, statuses = _send(bot_url, bodies[concurrency:], concurrency)
        elapsed, busy = time.monotonic() - began, machine_busy_seconds() - busy
        recorded, behind = _jobs_recorded(url, before + len(bodies))
        cpu = tree_cpu_seconds(bot.pid) - cpu  # the work after the acks included
    finally:
        stop(bot, *others)
    ms = [x * 1000 for x in latencies]
    return {
        "database": args.database,
        "worker": args.worker,
        "in_flight_before": before,
        "requests": requests,
        "concurrency": concurrency,
        "bot_processes": 2 if args.multiproc else 1,
        "ok": sum(1 for s in statuses if s == 200),
        "ack_ms_p50": pct(ms, 0.5),
        "ack_ms_p95": pct(ms, 0.95),
        "ack_ms_p99": pct(ms, 0.99),
        "ack_ms_max": pct(ms, 1.0),
        "requests_per_s": round(requests / elapsed, 1),
        "jobs_recorded": recorded - before,
        "last_job_recorded_s_after_last_ack": behind,
        "bot_cpu_ms_per_request": round(1000 * cpu / requests, 2),
        "machine_cpu_busy_pct_while_sending": round(100 * busy / (elapsed * CPUS), 1),
        "machine": machine(),
    }


_control = httpx.Client(timeout=10)
CPUS = os.cpu_count() or 1
SENDER_PROCESSES = 4


def _worker_following(url: str, env: dict[str, str], work: Path, jobs: int) -> Popen[bytes]:
    """A worker with `jobs` research jobs it has started and now follows."""
    db = Database.connect(url)
    kinds = load_kinds()
    for n in range(jobs):
        submit(db, kinds, "research", f"Running question {n}", user="U_RUN", channel="C_GENERAL")
    worker = spawn(["-m", "errand.cli", "worker"], env, work / "worker.log")
    began = time.monotonic()
    with db.engine.connect() as connection:
        while time.monotonic() - began < 120:
            started = connection.execute(
                select(func.count()).select_from(Attempt).where(Attempt.response_id.is_not(None))
            ).scalar_one()
            connection.rollback()
            if started >= jobs:
                break
            time.sleep(0.2)
    db.engine.dispose()
    return worker


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
