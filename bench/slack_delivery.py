"""Results within Slack's real limits: N jobs over many channels on ONE worker, against a
Slack stand-in that enforces Slack's documented rate tiers (its default).

Prints figures, never pass/fail:
    .venv/bin/python -m bench.slack_delivery --jobs 500 --channels 50 --min 20 --max 40
    .venv/bin/python -m bench.slack_delivery --jobs 2000 --channels 50 --unreachable 0.02
Lag is the stand-in's completion time of each response to the `ts` of the job's result
post, wherever it landed (its channel's thread, or a DM when the channel went away).
`--unreachable F` removes the bot from that share of the channels once a quarter of the
jobs have finished.
"""

from __future__ import annotations

import argparse
import json
import time
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
    own_database,
    pct,
    result_job,
    spawn,
    stop,
)
from errand.parts import connect
from models.job import Job
from models.settings import Settings
from models.store.submission import submit

TIER3_PER_MINUTE = 50  # chat.update: one edit per card needs jobs / 50 minutes at least


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--min", type=float, default=20.0, help="shortest provider duration (s)")
    parser.add_argument("--max", type=float, default=40.0, help="longest provider duration (s)")
    parser.add_argument("--unreachable", type=float, default=0.0, help="share of channels lost")
    parser.add_argument("--webhooks", action="store_true", help="OPENAI_WEBHOOK_SECRET on")
    parser.add_argument(
        "--no-card-wait", action="store_true", help="stop once every result is posted"
    )
    args = parser.parse_args()
    with own_database() as url:
        print(json.dumps(run(args, url), indent=2))


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    stand_ins = fresh_stand_ins(url, "slack", (args.min, args.max))
    work, openai_url, slack_url = stand_ins.work, stand_ins.openai_url, stand_ins.slack_url
    channels = _channels(slack_url, args.channels)
    parts = connect(Settings(_env_file=None, database_url=url, redis_url=REDIS))  # type: ignore[call-arg]
    for n in range(args.jobs):
        channel = channels[n % len(channels)]
        submit(
            parts.db, parts.kinds, "research", f"Question {n}", user="U_REQUESTER", channel=channel
        )
    env = errand_env(url, openai_url, slack_url)
    others = [stand_ins.openai, stand_ins.slack]
    if args.webhooks:
        others.append(hook_up(env, work, openai_url))
    began = time.monotonic()
    worker = spawn(["-m", "errand.cli", "worker"], env, work / "worker.log")
    sampler = Sampler(worker.pid)
    lost = _follow(args, parts, slack_url, channels, sampler, began)
    elapsed, cpu = time.monotonic() - began, sampler.cpu_seconds()
    figures = _figures(args, openai_url, slack_url, lost)
    calls = httpx.get(slack_url + "/_sandbox/calls", timeout=60).json()["calls"]
    (work / "slack-calls.json").write_text(json.dumps(calls))  # for a closer look
    stop(worker, *others)
    parts.db.engine.dispose()
    return {
        "jobs": args.jobs,
        "channels": args.channels,
        "durations_s": [args.min, args.max],
        "webhooks": args.webhooks,
        "unreachable_channels": sorted(lost),
        "seconds": round(elapsed, 1),
        **figures,
        "worker_peak_rss_mb": round(sampler.peak_rss_mb, 1),
        "worker_cpu_s": round(cpu, 1),
        "machine": machine(),
    }


def _channels(slack_url: str, count: int) -> list[str]:
    ids = [f"C_BENCH{n:03d}" for n in range(count)]
    for channel in ids:
        body = {"id": channel, "name": channel.lower().replace("_", "-")}
        httpx.post(slack_url + "/_sandbox/channels", json=body, timeout=10).raise_for_status()
    return ids


def _follow(
    args: argparse.Namespace,
    parts: Any,
    slack_url: str,
    channels: list[str],
    sampler: Sampler,
    began: float,
) -> set[str]:
    """Wait for every result to be posted (or a generous deadline); lose channels on cue."""
    lost: set[str] = set()
    give_up = args.max * 4 + 300 + args.jobs / 5
    while time.monotonic() - began < give_up:
        time.sleep(2)
        done = _done(parts)
        sampler.sample(args.jobs - done)
        if args.unreachable and not lost and done >= args.jobs / 4:
            lost = _lose(slack_url, channels, args.unreachable)
        if done >= args.jobs and len(_results(slack_url)) >= args.jobs:
            break
    # Card edits go out at Slack's Tier 3 pace after the results: wait for the last.
    until = time.monotonic() + (0 if args.no_card_wait else 60 * args.jobs / TIER3_PER_MINUTE + 60)
    while time.monotonic() < until and _cards_not_final(slack_url, lost):
        time.sleep(5)
    return lost


def _done(parts: Any) -> int:
    with parts.db.unit() as unit:
        rows = unit.session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return sum(int(n) for status, n in rows if status not in ("queued", "running"))


def _lose(slack_url: str, channels: list[str], share: float) -> set[str]:
    lost = set(channels[: max(1, round(len(channels) * share))])
    for channel in lost:
        httpx.post(
            f"{slack_url}/_sandbox/channels/{channel}/members",
            json={"action": "remove"},
            timeout=10,
        ).raise_for_status()
    return lost


def _conversations(slack_url: str) -> list[dict[str, Any]]:
    listed = httpx.get(slack_url + "/_sandbox/channels", timeout=60).json()["channels"]
    found = []
    for conv in listed:
        state = httpx.get(f"{slack_url}/_sandbox/channels/{conv['id']}/messages", timeout=120)
        found.append({"id": conv["id"], "messages": state.json()["messages"]})
    return found


def _results(slack_url: str) -> dict[str, float]:
    """Job ID -> epoch of its first result post, in any conversation."""
    posted: dict[str, float] = {}
    for conv in _conversations(slack_url):
        for message in conv["messages"]:
            for reply in message.get("replies") or []:
                job_id = result_job(str(reply.get("text") or ""))
                if job_id:
                    posted[job_id] = min(posted.get(job_id, 1e18), float(reply["ts"]))
    return posted


def _figures(
    args: argparse.Namespace, openai_url: str, slack_url: str, lost: set[str]
) -> dict[str, Any]:
    stats = httpx.get(openai_url + "/_sandbox/stats", timeout=60).json()
    done_at = {
        r["metadata"].get("job_id"): r["completed_at"]
        for r in stats["responses"].values()
        if r.get("completed_at")
    }
    posted = _results(slack_url)
    lags = [posted[j] - done_at[j] for j in posted if j in done_at]
    calls = httpx.get(slack_url + "/_sandbox/calls", timeout=60).json()["calls"]
    finals = [c["at"] for c in calls if c["method"] == "chat.update" and c["ok"]]
    last_done = max(done_at.values(), default=0.0)
    first_done = min(done_at.values(), default=0.0)
    return {
        "results_delivered": f"{len(posted)}/{args.jobs}",
        "results_delivered_pct": round(100 * len(posted) / args.jobs, 2),
        "lag_s_p50": pct(lags, 0.5),
        "lag_s_p99": pct(lags, 0.99),
        "lag_s_max": pct(lags, 1.0),
        "slack_calls_per_job": round(len(calls) / args.jobs, 2),
        "slack_429_pct": round(100 * sum(1 for c in calls if c["status"] == 429) / len(calls), 3),
        "slack_calls_to_lost_channels": sum(
            1 for c in calls if (c.get("args") or {}).get("channel") in lost and not c["ok"]
        ),
        "last_card_edit_after_first_result_s": round(max(finals, default=0.0) - first_done, 1),
        "last_card_edit_after_last_result_s": round(max(finals, default=0.0) - last_done, 1),
        "tier3_time_for_one_edit_per_card_s": round(60 * args.jobs / TIER3_PER_MINUTE, 1),
        "cards_not_final": _cards_not_final(slack_url, lost),
    }


def _cards_not_final(slack_url: str, lost: set[str]) -> int:
    """Cards that do not show a final state (a lost channel's cards cannot be edited)."""
    finals = ("Completed", "Failed", "Canceled", "Expired", "Rejected", "Waiting for review")
    cards = [
        m
        for conv in _conversations(slack_url)
        if conv["id"] not in lost
        for m in conv["messages"]
        if (m.get("metadata") or {}).get("event_type") == "errand_job"
    ]
    return sum(1 for m in cards if not any(word in str(m.get("text")) for word in finals))


if __name__ == "__main__":
    main()
