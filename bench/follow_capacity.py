"""In-flight capacity: N jobs on one worker process (or `--workers W`) against the provider
and Slack stand-ins.

Prints figures, never pass/fail:
    .venv/bin/python -m bench.follow_capacity --jobs 2000 --min 20 --max 60 [--webhooks] \
        [--workers W]
CPU and memory are summed over the worker processes. The Slack stand-in's own tiers are off
unless `--slack-limits` (`bench.slack_delivery` measures delivery within them).
Every job has a Slack card, so the notifier's calls are counted: in C_GENERAL, or spread
over `--channels N` channels (Errand keeps Slack's pace of about one post a second per
channel, so one channel caps results at one a second).
Uses its own PostgreSQL database (ERRAND_BENCH_PG) and Redis DB 9 (ERRAND_BENCH_REDIS).
Lag is measured exactly: the stand-in's own completion time of each response to the
`ts` of the "Result of job" reply in the Slack stand-in.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.common import (
    REDIS,
    Sampler,
    errand_env,
    fresh_stand_ins,
    hook_up,
    machine,
    machine_busy_seconds,
    own_database,
    pct,
    result_job,
    spawn,
    stop,
)
from errand.parts import connect
from models.job import Attempt, Job
from models.settings import Settings
from models.store.submission import submit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--min", type=float, default=20.0, help="shortest provider duration (s)")
    parser.add_argument("--max", type=float, default=60.0, help="longest provider duration (s)")
    parser.add_argument("--webhooks", action="store_true", help="OPENAI_WEBHOOK_SECRET on")
    parser.add_argument("--timeline", type=Path, help="write each job's times here (JSON lines)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--channels", type=int, default=1, help="Slack channels the cards use")
    parser.add_argument(
        "--slack-limits", action="store_true", help="the Slack stand-in enforces Slack's tiers"
    )
    args = parser.parse_args()
    with own_database() as url:
        print(json.dumps(run(args, url), indent=2))


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    stand_ins = fresh_stand_ins(url, "follow", (args.min, args.max))
    work, openai_url, slack_url = stand_ins.work, stand_ins.openai_url, stand_ins.slack_url
    env = errand_env(url, openai_url, slack_url)
    if not args.slack_limits:  # Errand's own capacity: Slack's tiers are bench.slack_delivery's
        httpx.post(slack_url + "/_sandbox/settings", json={"rate_limits": "off"}, timeout=10)
    others = [stand_ins.openai, stand_ins.slack]
    if args.webhooks:
        others.append(hook_up(env, work, openai_url))
    settings = Settings(_env_file=None, database_url=url, redis_url=REDIS)  # type: ignore[call-arg]
    parts = connect(settings)
    channels = _channels(slack_url, args.channels)
    for n in range(args.jobs):
        submit(
            parts.db,
            parts.kinds,
            "research",
            f"Bench question {n}",
            user="U_BENCH",
            channel=channels[n % len(channels)],
        )
    began, busy_before = time.monotonic(), machine_busy_seconds()
    workers = [
        spawn(["-m", "errand.cli", "worker"], env, work / f"worker{n}.log")
        for n in range(args.workers)
    ]
    samplers = [Sampler(worker.pid) for worker in workers]
    peak, peak_running, all_started, done = 0, 0, None, 0
    give_up = args.max * 4 + 180 + args.jobs / 10  # launching 5,000 takes minutes
    while done < args.jobs and time.monotonic() - began < give_up:
        time.sleep(2)
        counts = _counts(parts)
        done = sum(n for s, n in counts.items() if s not in ("queued", "running"))
        in_flight = counts.get("queued", 0) + counts.get("running", 0)
        peak = max(peak, in_flight)
        peak_running = max(peak_running, _running_at_the_provider(parts))
        if all_started is None and not counts.get("queued"):
            all_started = time.monotonic() - began
        for sampler in samplers:
            sampler.sample(in_flight)
    time.sleep(3)  # let the last results reach Slack
    cpu = sum(sampler.cpu_seconds() for sampler in samplers)
    elapsed = time.monotonic() - began
    busy = machine_busy_seconds() - busy_before
    figures = _figures(args, parts, openai_url, slack_url, _counts(parts))
    stop(*workers, *others)
    parts.db.engine.dispose()
    return {
        "jobs": args.jobs,
        "webhooks": args.webhooks,
        "workers": args.workers,
        "channels": args.channels,
        "durations_s": [args.min, args.max],
        "seconds": round(elapsed, 1),
        "peak_in_flight": peak,
        "peak_running_at_the_provider": peak_running,
        "all_started_after_s": round(all_started, 1) if all_started is not None else None,
        "launches_per_s": round(args.jobs / all_started, 1) if all_started else None,
        **figures,
        "worker_peak_rss_mb": round(sum(s.peak_rss_mb for s in samplers), 1),
        "worker_rss_mb_near_1000_in_flight": _rss_near(samplers[0], 1000),
        "worker_pss_mb_at_peak_in_flight": _pss_at_peak(samplers[0]),
        "worker_peak_pss_mb": round(sum(s.peak_pss_mb for s in samplers), 1),
        "worker_cpu_s": round(cpu, 1),
        "worker_cpu_pct_of_one_core": round(100 * cpu / elapsed, 1),
        "machine_cpu_busy_pct": round(100 * busy / (elapsed * (os.cpu_count() or 1)), 1),
        "machine": machine(),
    }


def _running_at_the_provider(parts: Any) -> int:
    """Responses created and not yet finished (with webhooks a job stays "queued" till then)."""
    with parts.db.unit() as unit:
        running = unit.session.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(Attempt.response_id.is_not(None), Attempt.finished_at.is_(None))
        )
    return int(running or 0)


def _counts(parts: Any) -> dict[str, int]:
    with parts.db.unit() as unit:
        rows = unit.session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {str(s): int(n) for s, n in rows}


def _figures(
    args: argparse.Namespace, parts: Any, openai_url: str, slack_url: str, counts: dict[str, int]
) -> dict[str, Any]:
    stats = httpx.get(openai_url + "/_sandbox/stats", timeout=60).json()
    done_at = {
        r["metadata"].get("job_id"): r["completed_at"]
        for r in stats["responses"].values()
        if r.get("completed_at")
    }
    posted = _result_posts(slack_url)
    lags = [posted[j] - done_at[j] for j in posted if j in done_at]
    span = max(posted.values(), default=0.0) - min(posted.values(), default=0.0)
    finished = _finished_at(parts)
    if args.timeline:
        _write_timeline(args.timeline, done_at, finished, posted)
    calls = httpx.get(slack_url + "/_sandbox/calls", timeout=60).json()["calls"]
    excess = _excess_over_poll(parts, posted, done_at)
    detect = [finished[j] - done_at[j] for j in finished if j in done_at]
    deliver = [posted[j] - finished[j] for j in posted if j in finished]
    return {
        "statuses": counts,
        "results_posted": len(posted),
        "results_per_s": round(len(posted) / span, 1) if span else None,
        "lag_s_p50": pct(lags, 0.5),
        "lag_s_p99": pct(lags, 0.99),
        "lag_s_max": pct(lags, 1.0),
        "lag_minus_poll_interval_in_force_s_p99": pct(excess, 0.99),
        "detect_s_p50_p99": [pct(detect, 0.5), pct(detect, 0.99)],
        "deliver_s_p50_p99": [pct(deliver, 0.5), pct(deliver, 0.99)],
        "provider_retrieves_per_job": round(stats["calls"]["retrieve"] / args.jobs, 2),
        "provider_creates_per_job": round(stats["calls"]["create"] / args.jobs, 2),
        "webhooks_delivered": stats.get("webhooks", {}).get("delivered"),
        "slack_calls_per_job": round(len(calls) / args.jobs, 2),
        "slack_429s": sum(1 for c in calls if c.get("status") == 429),
        "cards_not_final": _cards_not_final(slack_url),
    }


def _write_timeline(
    path: Path, done_at: dict[str, float], finished: dict[str, float], posted: dict[str, float]
) -> None:
    """Per job: provider done, Errand recorded it, result posted (epoch seconds)."""
    with path.open("w") as out:
        for job_id, done in sorted(done_at.items(), key=lambda item: item[1]):
            row = {"job": job_id, "done": done, "finished": finished.get(job_id)}
            row["posted"] = posted.get(job_id)
            out.write(json.dumps(row) + "\n")


def _finished_at(parts: Any) -> dict[str, float]:
    """Job ID -> when Errand recorded the provider's outcome (detection)."""
    with parts.db.unit() as unit:
        rows = unit.session.execute(select(Job.id, Job.finished_at)).all()
    return {str(j): at.timestamp() for j, at in rows if at is not None}


def _channels(slack_url: str, count: int) -> list[str]:
    """C_GENERAL, or `count` new channels."""
    if count <= 1:
        return ["C_GENERAL"]
    ids = [f"C_BENCH{n:03d}" for n in range(count)]
    for channel in ids:
        body = {"id": channel, "name": channel.lower().replace("_", "-")}
        httpx.post(slack_url + "/_sandbox/channels", json=body, timeout=10).raise_for_status()
    return ids


def _messages(slack_url: str) -> list[dict[str, Any]]:
    """Every top-level message of every channel, with its replies."""
    listed = httpx.get(slack_url + "/_sandbox/channels", timeout=60).json()["channels"]
    found: list[dict[str, Any]] = []
    for conv in listed:
        state = httpx.get(f"{slack_url}/_sandbox/channels/{conv['id']}/messages", timeout=120)
        found.extend(state.json()["messages"])
    return found


def _result_posts(slack_url: str) -> dict[str, float]:
    """Job ID -> epoch of its "Result of job" reply, from the stand-in's message ts."""
    posted: dict[str, float] = {}
    for message in _messages(slack_url):
        for reply in message.get("replies") or []:
            job_id = result_job(str(reply.get("text") or ""))
            if job_id:
                posted.setdefault(job_id, float(reply["ts"]))
    return posted


def _cards_not_final(slack_url: str) -> int:
    cards = [m for m in _messages(slack_url) if (m.get("metadata") or {}).get("event_payload")]
    return sum(1 for m in cards if "Completed" not in str(m.get("text") or ""))


def _excess_over_poll(
    parts: Any, posted: dict[str, float], done_at: dict[str, float]
) -> list[float]:
    """Lag minus the poll interval the job was on when it finished (policy from its checks)."""
    policy = parts.kinds.get("research").follow
    with parts.db.unit() as unit:
        checks = dict(unit.session.execute(select(Attempt.job_id, Attempt.checks)).all())
    return [
        posted[j] - done_at[j] - policy.interval(max(int(checks.get(j, 1)) - 1, 0))
        for j in posted
        if j in done_at
    ]


def _pss_at_peak(sampler: Sampler) -> float | None:
    """The (first) worker's largest PSS while the most jobs were in flight (within 5%)."""
    if not sampler.pss_at:
        return None
    top = max(n for n, _ in sampler.pss_at)
    return round(max(pss for n, pss in sampler.pss_at if n >= top * 0.95), 1)


def _rss_near(sampler: Sampler, in_flight: int) -> float | None:
    near = [rss for n, rss in sampler.rss_at if n >= in_flight]
    return round(max(near), 1) if near else None


if __name__ == "__main__":
    main()
