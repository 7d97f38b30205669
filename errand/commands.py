"""What each `errand` subcommand does; the parser lives in `errand.cli`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from errand import embedded_redis, jobs
from errand.metrics import share_across_processes
from errand.runtime import Runtime, build_runtime
from errand.settings import Settings, require
from errand.views import job_detail, job_summary
from models.job import Event, Job
from models.migrate import upgrade

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def resolve_redis(settings: Settings) -> Settings:
    """REDIS_URL, else the embedded Redis `errand run` started here, else the local default."""
    if settings.redis_url:
        return settings
    url = embedded_redis.running_url(Path(settings.data_dir)) or DEFAULT_REDIS
    return settings.model_copy(update={"redis_url": url})


def _runtime(settings: Settings, *, db_wait: float | None = None) -> Runtime:
    return build_runtime(resolve_redis(settings), db_wait=db_wait)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("errand: database is at the newest schema")
    return 0


def worker(args: argparse.Namespace, settings: Settings) -> int:
    from worker.process import run_worker

    runtime = _runtime(settings)
    _ = runtime.provider  # a missing OPENAI_API_KEY stops us here, with one line
    run_worker(runtime, burst=args.burst)
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Everything on one machine: migrate, a private Redis if needed, a worker, and the bot
    when Slack is configured."""
    if getattr(args, "sandbox", False):
        return run_sandbox(args, settings)
    require(settings.openai_api_key, "OPENAI_API_KEY", "the worker calls the provider")
    upgrade(settings.database_url)
    env = dict(os.environ)
    redis_process = None
    if not settings.redis_url:
        redis_process = embedded_redis.start(Path(settings.data_dir))
        env["REDIS_URL"] = embedded_redis.socket_url(Path(settings.data_dir))
    share_across_processes(env, settings.data_dir)  # one /metrics for bot and worker
    children = _spawn(env)
    try:
        return _supervise(children)
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)


def run_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    """`run --sandbox`: stand-ins for Slack and OpenAI, the real bot and worker, one page."""
    from sandbox.mode import SandboxOptions
    from sandbox.mode import run_sandbox as start

    options = SandboxOptions(host=args.host, port=args.port, duration=args.duration)
    return start(settings, options)


def bot(args: argparse.Namespace, settings: Settings) -> int:
    """The Slack bot alone: HTTP on --port, or Socket Mode when SLACK_APP_TOKEN is set."""
    from bot.serve import run_bot

    # Slack gives up on an ack after 3 s: a database that hangs must fail first, so the
    # person is told nothing started instead of seeing Slack's timeout. 0 turns the
    # bound off (a PgBouncer that refuses the `options` startup parameter).
    runtime = _runtime(settings, db_wait=settings.bot_db_timeout or None)
    run_bot(runtime, port=args.port, host=args.host)
    return 0


def _spawn(env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    commands = [[sys.executable, "-m", "errand.cli", "worker"]]
    if env.get("SLACK_BOT_TOKEN"):
        commands.append([sys.executable, "-m", "errand.cli", "bot"])
    return [subprocess.Popen(command, env=env) for command in commands]


def _supervise(children: list[subprocess.Popen[bytes]]) -> int:
    """Wait for the first child to end (or a signal), then stop the others gracefully."""

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.terminate()
    return max(child.wait() for child in children)


def jobs_submit(args: argparse.Namespace, settings: Settings) -> int:
    runtime = _runtime(settings)
    job = jobs.submit(runtime, args.kind, args.text, user=args.user, channel=args.channel)
    if args.json:
        _print_json(job_summary(jobs.get_job(runtime, job.id)))
    else:
        print(job.id)
    return 0


def jobs_list(args: argparse.Namespace, settings: Settings) -> int:
    runtime = _runtime(settings)
    query = select(Job).order_by(Job.created_at.desc()).limit(args.limit)
    if args.status:
        query = query.where(Job.status == args.status)
    with runtime.unit() as unit:
        rows = list(unit.session.scalars(query))
    if args.json:
        _print_json([job_summary(job) for job in rows])
        return 0
    for job in rows:
        print(
            f"{job.id}  {job.status:<12} {job.kind:<9} {job.requested_by:<12} "
            f"{job.created_at:%Y-%m-%d %H:%M}  {job.input_text[:60]}"
        )
    return 0


def jobs_show(args: argparse.Namespace, settings: Settings) -> int:
    runtime = _runtime(settings)
    job = jobs.get_job(runtime, args.id)
    with runtime.unit() as unit:
        events = list(
            unit.session.scalars(select(Event).where(Event.job_id == job.id).order_by(Event.id))
        )
    detail = job_detail(job, events)
    if args.json:
        _print_json(detail)
        return 0
    for key in (
        "id",
        "kind",
        "status",
        "requested_by",
        "attempts",
        "provider_response_id",
        "error",
        "cost_usd",
        "created_at",
        "finished_at",
    ):
        print(f"{key:>21}: {detail[key]}")
    for event in detail["events"]:
        change = (
            f"{event['from_status'] or ''} -> {event['to_status']}" if event["to_status"] else ""
        )
        print(
            f"  {event['at']}  {event['actor']:<12} {event['action']:<16} {change}  "
            f"{event['detail'] or ''}"
        )
    if job.output_text:
        print("\n" + job.output_text)
    return 0


def jobs_cancel(args: argparse.Namespace, settings: Settings) -> int:
    outcome = jobs.request_cancel(_runtime(settings), args.id, actor=f"cli:{args.user}")
    print(f"errand: {outcome}")
    return 0


def jobs_retry(args: argparse.Namespace, settings: Settings) -> int:
    job = jobs.request_retry(_runtime(settings), args.id, actor=f"cli:{args.user}")
    print(f"errand: job {job.id} queued as attempt {job.attempts}")
    return 0
