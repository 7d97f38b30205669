"""Batch throughput: rows per second from a file handed to Errand to its results file
posted in the job's thread.

Prints figures, never pass/fail:
    .venv/bin/python -m bench.batch --rows 10000 [--provider-rows-per-second 5000] [--webhooks]
One ONE worker (with its Slack notifier) on PostgreSQL; the rows are read and stored as
`errand jobs submit batch --file` does, the provider stand-in runs them at the given speed
(fast by default, so what is measured is Errand's part: storing the rows, writing and
uploading the input file, following the batch, reading its output back into the results
file and posting it), and the posted file is downloaded and checked row by row.
Uses its own PostgreSQL database (ERRAND_BENCH_PG) and Redis DB (ERRAND_BENCH_REDIS).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.common import (
    REDIS,
    SLACK_TOKEN,
    Sampler,
    errand_env,
    fresh_stand_ins,
    hook_up,
    machine,
    own_database,
    spawn,
    stop,
)
from errand.parts import Parts, connect
from models.job import Job
from models.rows import parse_rows
from models.settings import Settings
from models.store.submission import submit_batch

CHANNEL = "C_GENERAL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--provider-rows-per-second", type=float, default=5_000.0)
    parser.add_argument("--webhooks", action="store_true", help="batch.* webhooks, not polls")
    args = parser.parse_args()
    with own_database() as url:
        print(json.dumps(run(args, url), indent=2))


def rows_csv(count: int) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["id", "customer", "message"])
    for n in range(1, count + 1):
        writer.writerow([n, f"Customer {n}", f"My order {n} arrived late, can you help?"])
    return out.getvalue().encode()


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    ins = fresh_stand_ins(url, "batch", (1.0, 2.0))
    speed = {"batch_validate_seconds": 1.0, "batch_finalize_seconds": 1.0}
    speed["batch_rows_per_second"] = args.provider_rows_per_second
    httpx.post(ins.openai_url + "/_sandbox/config", json=speed).raise_for_status()
    env = errand_env(url, ins.openai_url, ins.slack_url)
    bots = [hook_up(env, ins.work, ins.openai_url)] if args.webhooks else []
    worker = spawn(["-m", "errand.cli", "worker"], env, ins.work / "worker.log")
    try:
        parts = connect(Settings(_env_file=None, database_url=url, redis_url=REDIS))  # type: ignore[call-arg]
        time.sleep(3)  # the worker's start: not the batch's time
        return _measure(args, parts, ins.slack_url, Sampler(worker.pid))
    finally:
        stop(worker, *bots, ins.openai, ins.slack)


def _measure(args: argparse.Namespace, parts: Parts, slack_url: str, worker: Sampler) -> Any:
    data = rows_csv(args.rows)
    cpu = worker.cpu_seconds()
    began = time.monotonic()
    rows = parse_rows(data, "rows.csv")
    job = submit_batch(
        parts.db, parts.kinds, "batch", "Draft a one-line reply.", rows, user="U_BENCH",
        channel=CHANNEL, filename="rows.csv",
    )  # fmt: skip
    stored = time.monotonic() - began
    marks = _follow(parts, job.id, began, worker)
    posted, lines = _posted(slack_url, job.id, began, worker)
    answered = sum(1 for line in lines if line.get("answer"))
    return {
        "rows": args.rows,
        "file_bytes": len(data),
        "provider_rows_per_second": args.provider_rows_per_second,
        "webhooks": args.webhooks,
        "seconds": {"stored": round(stored, 2), **marks, "posted": round(posted, 2)},
        "rows_per_second_upload_to_posted": round(args.rows / posted, 1),
        "results_rows": len(lines),
        "answered": answered,
        "worker_cpu_seconds": round(worker.cpu_seconds() - cpu, 2),
        "worker_peak_rss_mb": round(worker.peak_rss_mb, 1),
        "machine": machine(),
    }


def _follow(parts: Parts, job_id: str, began: float, worker: Sampler) -> dict[str, float]:
    """Seconds from the start to the batch's creation and to its end being stored."""
    marks: dict[str, float] = {}

    def look() -> bool:
        with parts.db.unit() as unit:
            job = unit.session.get(Job, job_id)
            assert job is not None
            if job.started_at and "batch_created" not in marks:
                marks["batch_created"] = round(time.monotonic() - began, 2)
            return job.finished_at is not None

    _wait(look, worker, f"job {job_id} never ended")
    marks["results_stored"] = round(time.monotonic() - began, 2)
    return marks


def _posted(
    slack_url: str, job_id: str, began: float, worker: Sampler
) -> tuple[float, list[dict[str, str]]]:
    """When the results file was in the thread, and its rows."""
    found: list[dict[str, Any]] = []

    def look() -> bool:
        messages = httpx.get(f"{slack_url}/_sandbox/channels/{CHANNEL}/messages").json()
        for card in messages["messages"]:
            found.extend(r for r in card.get("replies") or [] if r.get("files"))
        return bool(found)

    _wait(look, worker, f"no results file for job {job_id}")
    posted = time.monotonic() - began
    auth = {"Authorization": f"Bearer {SLACK_TOKEN}"}
    link = found[0]["files"][0]["url_private_download"]
    content = httpx.get(link, headers=auth, timeout=60).text
    return posted, list(csv.DictReader(io.StringIO(content)))


def _wait(done: Callable[[], bool], worker: Sampler, why: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        worker.sample(0)
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {why}")
        time.sleep(0.1)


if __name__ == "__main__":
    main()
