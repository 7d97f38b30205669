"""How fast the operator's console answers with a large history.

Fills a fresh database (SQLite by default, `--postgres` for PostgreSQL) with `--jobs`
jobs spread over the last 30 days, as Errand leaves them: an attempt each, their events
and their Slack notices (a few given up, some provider failures), written in bulk with
SQL. Then starts a real `errand console` on it and times each page the operator uses,
over HTTP, several times. Prints the figures as JSON. `--screenshot PATH` also saves the
overview as headless Chromium shows it (the README's picture).

    .venv/bin/python -m bench.console --jobs 100000 [--postgres] [--screenshot docs/console.png]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright
from sqlalchemy import create_engine, insert

from bench.common import machine, own_database, stop, wait_http
from models.ids import new_job_id
from models.job import attempts, events, jobs, notices
from models.migrate import upgrade
from sandbox.processes import free_port, spawn

KINDS = {"research": 0.6, "ask": 0.25, "draft": 0.1, "deep": 0.05}
LANES = {"research": "background", "ask": "interactive", "draft": "approval", "deep": "approval"}
ENDS = {"completed": 0.86, "failed": 0.05, "canceled": 0.04, "expired": 0.01, "rejected": 0.01}
ENDS.update({"running": 0.01, "queued": 0.01, "needs_review": 0.005, "awaiting_approval": 0.005})
WORDS = ["heat", "pumps", "glaciers", "tariffs", "solar", "grid", "battery", "storage"]
WORDS += ["supply", "chain", "vaccine", "trial", "market", "churn", "pricing", "latency"]
BATCH = 5_000
PAGES = {
    "jobs, newest first": "/",
    "jobs, page 1,000 (offset 49,950)": "/?page=1000",
    "jobs, status=failed": "/?status=failed",
    "jobs, status=completed, oldest first": "/?status=completed&sort=oldest",
    "jobs, kind=deep": "/?kind=deep",
    "jobs, requester=U0042": "/?requester=U0042",
    "jobs, channel=C07": "/?channel=C07",
    "jobs, search 'glaciers tariffs'": "/?q=glaciers+tariffs",
    "jobs, costliest first": "/?sort=cost",
    "one job": "/jobs/{job}",
    "overview, 24 hours": "/overview?range=24h",
    "overview, 7 days": "/overview?range=7d",
    "overview, 30 days": "/overview?range=30d",
}


def _pick(weights: dict[str, float], rng: random.Random) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _job(rng: random.Random, now: datetime) -> dict[str, Any]:
    """One job's rows: the job, its attempt, its events and its notices."""
    kind, status = _pick(KINDS, rng), _pick(ENDS, rng)
    created = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
    started = created + timedelta(seconds=rng.uniform(0.5, 5))
    finished = started + timedelta(seconds=rng.uniform(5, 600))
    ended = status not in ("running", "queued", "awaiting_approval", "needs_review")
    cost = round(rng.uniform(0.001, 0.5) * (8 if kind == "deep" else 1), 6) if ended else None
    question = " ".join(rng.choices(WORDS, k=rng.randint(8, 40)))
    completed_at = finished.timestamp() if status == "completed" else None
    return {
        "id": new_job_id(),
        "kind": kind,
        "lane": LANES[kind],
        "status": status,
        "priority": 0,
        "requested_by": f"U{rng.randint(0, 199):04d}",
        "channel_id": f"C{rng.randint(0, 29):02d}",
        "input_text": f"What changed in {question}?",
        "attempts": 1,
        "max_attempts": 3,
        "model": "o3-deep-research" if kind == "deep" else "gpt-5.2",
        "output_text": (question + ". ") * 40 if status == "completed" else None,
        "output": {"completed_at": completed_at} if completed_at else None,
        "error": "the provider failed: server_error" if status == "failed" else None,
        "cost_usd": cost,
        "created_at": created,
        "updated_at": finished if ended else started,
        "started_at": started if status != "queued" else None,
        "finished_at": finished if ended else None,
    }


Rows = list[dict[str, Any]]


def _children(job: dict[str, Any], rng: random.Random) -> tuple[dict[str, Any], Rows, Rows]:
    """The attempt, events and notices a job of this status has."""
    jid, created, status = job["id"], job["created_at"], job["status"]
    end = job["finished_at"] or job["updated_at"]
    attempt = {
        "job_id": jid,
        "number": 1,
        "idempotency_key": f"{jid}-1",
        "response_id": f"resp_{jid.lower()}{rng.getrandbits(64):016x}",
        "create_calls": 1,
        "uncertain_creates": 1,
        "cost_usd": job["cost_usd"],
        "created_at": created,
        "launched_at": job["started_at"],
        "finished_at": job["finished_at"],
    }
    made: list[tuple[datetime, str, str, str | None, str | None]] = [
        (created, job["requested_by"], "submitted", None, "queued")
    ]
    made.append((job["started_at"] or created, "errand", "started", None, None))
    if rng.random() < 0.03:
        made.append((created, "provider", "start_delayed", None, None))
    if job["finished_at"]:
        made.append((end, "provider", "finish", "running", status))
    evs = [
        {"job_id": jid, "at": at, "actor": who, "action": what, "from_status": a, "to_status": b}
        for at, who, what, a, b in made
    ]
    lag = timedelta(seconds=rng.lognormvariate(-1.0, 0.8))
    given_up = end + timedelta(minutes=10) if rng.random() < 0.004 else None
    news = [
        _notice(jid, "queued", created, created + lag),
        _notice(jid, "card", created, created + lag),
    ]
    if job["finished_at"]:
        delivered = None if given_up else end + lag
        news.append(
            _notice(
                jid,
                status,
                end,
                delivered,
                given_up=given_up,
                tries=1 if rng.random() < 0.98 else 2,
            )
        )
    return attempt, evs, news


def _notice(
    job_id: str, milestone: str, at: datetime, delivered: datetime | None, **extra: Any
) -> dict[str, Any]:
    row = {
        "job_id": job_id,
        "key": f"{milestone}:{at.timestamp()}",
        "milestone": milestone,
        "created_at": at,
        "next_try_at": at,
        "tries": extra.get("tries", 1),
        "delivered_at": delivered,
        "given_up_at": extra.get("given_up"),
        "last_error": "channel_not_found" if extra.get("given_up") else None,
    }
    return row


def fill(url: str, count: int, seed: int = 7) -> tuple[float, str]:
    """Write `count` jobs with their rows; (seconds taken, the newest job's ID)."""
    rng, now = random.Random(seed), datetime.now(UTC)
    engine = create_engine(url)
    started = time.monotonic()
    newest: tuple[datetime, str] = (now - timedelta(days=31), "")
    for done in range(0, count, BATCH):
        rows = [_job(rng, now) for _ in range(min(BATCH, count - done))]
        parts = [_children(row, rng) for row in rows]
        with engine.begin() as conn:
            conn.execute(insert(jobs), rows)
            conn.execute(insert(attempts), [a for a, _, _ in parts])
            conn.execute(insert(events), [e for _, evs, _ in parts for e in evs])
            conn.execute(insert(notices), [n for _, _, news in parts for n in news])
        newest = max(newest, *((row["created_at"], row["id"]) for row in rows))
    if engine.dialect.name == "postgresql":  # what autovacuum has done by then in production
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return time.monotonic() - started, newest[1]


def time_pages(url: str, job_id: str, rounds: int) -> dict[str, dict[str, float]]:
    """Median and slowest of `rounds` loads of each page, in milliseconds (after one
    warm-up load, as an operator clicking around would see them)."""
    figures = {}
    with httpx.Client(base_url=url, timeout=120) as client:
        for name, pattern in PAGES.items():
            path = pattern.format(job=job_id)
            client.get(path).raise_for_status()
            took = []
            for _ in range(rounds):
                start = time.perf_counter()
                client.get(path).raise_for_status()
                took.append((time.perf_counter() - start) * 1000)
            figures[name] = {
                "median_ms": round(statistics.median(took), 1),
                "max_ms": round(max(took), 1),
            }
    return figures


def screenshot(url: str, path: Path) -> None:
    """The overview as headless Chromium (Debian's) shows it."""
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1320, "height": 900}, device_scale_factor=1)
        page.goto(f"{url}/overview?range=30d")
        page.screenshot(path=str(path), full_page=True)
        browser.close()


@contextmanager
def database(postgres: bool) -> Iterator[str]:
    if postgres:
        with own_database() as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as scratch:
        yield f"sqlite:///{Path(scratch) / 'bench.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    with database(args.postgres) as url, tempfile.TemporaryDirectory() as work:
        upgrade(url)
        filled, newest = fill(url, args.jobs)
        port = free_port()
        env = {"DATABASE_URL": url, "ERRAND_DATA_DIR": work, "ERRAND_LOG_LEVEL": "WARNING"}
        env["ERRAND_CONSOLE_OPERATOR"] = "ops"
        console = spawn(
            ["-m", "errand.cli", "console", "--port", str(port)], env, Path(work) / "c.log"
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/static/console.css")
            pages = time_pages(f"http://127.0.0.1:{port}", newest, args.rounds)
            if args.screenshot:
                screenshot(f"http://127.0.0.1:{port}", args.screenshot)
        finally:
            stop(console)
    backend = "postgresql" if args.postgres else "sqlite"
    report = {"jobs": args.jobs, "database": backend, "fill_seconds": round(filled, 1)}
    print(json.dumps({**report, "pages": pages, "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
