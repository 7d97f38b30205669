"""Never pay twice: N jobs on ONE worker while a share of creates are made but answered 500.

Prints figures, never pass/fail:
    .venv/bin/python -m bench.spend --jobs 2000 --made-but-500 0.1 [--no-webhooks]
The provider stand-in makes every create it is sent, and answers a share of them with a
500 anyway (`made: true`), the way a gateway error hides a response that runs and bills.
Errand must neither create again at once (one more try per attempt, after
ERRAND_CREATE_UNKNOWN_WAIT) nor leave what it made unseen: with webhooks (the default here,
as in production) the hidden response's webhook names its job and attempt, and the attempt
takes it. Goals: provider creates per job <= 1.1, and no response orphaned (made, never
followed, seen or cancelled).
Uses its own PostgreSQL database (ERRAND_BENCH_PG) and Redis DB (ERRAND_BENCH_REDIS).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import func, select

from bench.common import (
    REDIS,
    WEBHOOK_SECRET,
    Sampler,
    errand_env,
    free_port,
    machine,
    machine_busy_seconds,
    own_database,
    spawn,
    start_openai,
    start_slack,
    stop,
    wait_http,
)
from errand.parts import Parts, connect
from models.job import Attempt, Job
from models.migrate import upgrade
from models.settings import Settings
from models.status import TERMINAL
from models.store.submission import submit

REQUESTERS = 20  # jobs are spread over this many people (launches go round-robin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--made-but-500", type=float, default=0.1, help="share of creates")
    parser.add_argument("--min", type=float, default=5.0, help="shortest provider duration (s)")
    parser.add_argument("--max", type=float, default=15.0, help="longest provider duration (s)")
    parser.add_argument("--no-webhooks", action="store_true", help="polling only")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    with own_database() as url:
        print(json.dumps(run(args, url), indent=2))


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    upgrade(url)
    redis.Redis.from_url(REDIS).flushdb()
    work = Path(tempfile.mkdtemp(prefix="errand-bench-spend-"))
    running: list[subprocess.Popen[bytes]] = []
    try:
        env, openai_url = _stand_ins(args, url, work, running)
        parts = connect(Settings(_env_file=None, database_url=url, redis_url=REDIS))  # type: ignore[call-arg]
        for n in range(args.jobs):
            user = f"U_BENCH{n % REQUESTERS}"
            submit(parts.db, parts.kinds, "research", f"Spend question {n}", user=user)
        running.append(spawn(["-m", "errand.cli", "worker"], env, work / "worker.log"))
        figures = _measure(args, parts, openai_url, Sampler(running[-1].pid))
        parts.db.engine.dispose()
        return figures
    finally:
        stop(*running)


def _stand_ins(
    args: argparse.Namespace, url: str, work: Path, running: list[subprocess.Popen[bytes]]
) -> tuple[dict[str, str], str]:
    """The provider and Slack stand-ins, and the bot when webhooks are on; the provider
    makes every create, and answers a share of them with a 500 all the same."""
    openai, openai_url = start_openai(work)
    slack, slack_url = start_slack(work)
    running += [openai, slack]
    env = _env(url, openai_url, slack_url, webhooks=not args.no_webhooks)
    if not args.no_webhooks:  # the bot receives the provider's webhooks
        bot, bot_url = _start_bot(env, work)
        running.append(bot)
        _configure(openai_url, webhook_url=bot_url + "/openai/webhook")
    _configure(openai_url, duration_min=args.min, duration_max=args.max, random_seed=args.seed)
    fault = {"endpoint": "create", "status": 500, "made": True, "seconds": 86400}
    httpx.post(openai_url + "/_sandbox/faults", json={**fault, "probability": args.made_but_500})
    return env, openai_url


def _measure(
    args: argparse.Namespace, parts: Parts, openai_url: str, sampler: Sampler
) -> dict[str, Any]:
    load_before, busy_before, began = os.getloadavg(), machine_busy_seconds(), time.monotonic()
    settled = _wait(parts, args)
    elapsed = time.monotonic() - began
    cpu, busy = sampler.cpu_seconds(), machine_busy_seconds() - busy_before
    time.sleep(max(5.0, args.max))  # late webhooks settle the last strays
    return {
        "jobs": args.jobs,
        "made_but_500": args.made_but_500,
        "webhooks": not args.no_webhooks,
        "durations_s": [args.min, args.max],
        "all_settled": settled,
        "seconds": round(elapsed, 1),
        **_figures(parts, openai_url, args.jobs),
        "worker_cpu_s": round(cpu, 1),
        "machine_cpu_busy_pct": round(100 * busy / (elapsed * (os.cpu_count() or 1)), 1),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "machine": machine(),
    }


def _env(url: str, openai_url: str, slack_url: str, *, webhooks: bool) -> dict[str, str]:
    env = errand_env(url, openai_url, slack_url)
    if webhooks:
        env["OPENAI_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    return env


def _start_bot(env: dict[str, str], work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The bot, given two minutes to come up: on a shared machine it can take one."""
    port = free_port()
    bot = spawn(["-m", "errand.cli", "bot", "--port", str(port)], env, work / "bot.log")
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", timeout=120)
    return bot, url


def _configure(openai_url: str, **settings: Any) -> None:
    if "webhook_url" in settings:
        settings["webhook_secret"] = WEBHOOK_SECRET
    httpx.post(openai_url + "/_sandbox/config", json=settings).raise_for_status()


def _wait(parts: Parts, args: argparse.Namespace) -> bool:
    """Until every job has ended (or a generous limit: two unanswered creates cost waits)."""
    give_up = time.monotonic() + args.max * 4 + 300 + args.jobs / 10
    terminal = [s.value for s in TERMINAL]
    while time.monotonic() < give_up:
        time.sleep(2)
        with parts.db.unit() as unit:
            open_jobs = unit.session.scalar(
                select(func.count()).select_from(Job).where(Job.status.not_in(terminal))
            )
        if not open_jobs:
            return True
    return False


def _figures(parts: Parts, openai_url: str, jobs: int) -> dict[str, Any]:
    """Both sides' counts: what Errand sent and followed, what the stand-in made and billed."""
    stats = httpx.get(openai_url + "/_sandbox/stats", timeout=120).json()
    with parts.db.unit() as unit:
        followed = set(
            unit.session.scalars(
                select(Attempt.response_id).where(Attempt.response_id.is_not(None))
            )
        )
        sent = int(unit.session.scalar(select(func.sum(Attempt.create_calls))) or 0)
        statuses = dict(
            unit.session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
        )
    responses = stats["responses"]
    extras = {rid: r for rid, r in responses.items() if rid not in followed}
    cancelled = sum(1 for r in extras.values() if r["status"] == "cancelled")
    return {
        "statuses": {str(k): int(v) for k, v in statuses.items()},
        "provider_creates_per_job": round(stats["calls"]["create"] / jobs, 3),
        "provider_creates_recorded_per_job": round(sent / jobs, 3),
        "creates_answered_500": sum(1 for r in responses.values() if not r["heard"]),
        "responses_made": len(responses),
        "responses_followed": len(followed),
        "extra_responses": len(extras),
        "extra_responses_cancelled": cancelled,
        "extra_responses_not_cancelled": len(extras) - cancelled,
        "orphaned_responses": len(stats["orphans"]),
        "webhooks_delivered": stats["webhooks"]["delivered"],
    }


if __name__ == "__main__":
    main()
