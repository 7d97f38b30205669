"""The `errand` subcommands that run processes: everything, the worker, the bot, and the
database migration. The parser lives in `errand.cli`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from bot.serve import run_bot
from errand import embedded_redis
from errand.exposition import Exposition, serve_worker_metrics, share_across_processes
from errand.sandbox_mode import SandboxOptions, run_sandbox
from errand.supervise import supervise
from errand.wiring import bot_context, connect, worker_context
from models.migrate import upgrade
from models.settings import Settings, require
from worker.process import run_worker


def db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("errand: database is at the newest schema")
    return 0


def worker(args: argparse.Namespace, settings: Settings) -> int:
    ctx = worker_context(connect(settings))
    serve_worker_metrics(settings.metrics_port)
    run_worker(ctx, burst=args.burst)
    return 0


def bot(args: argparse.Namespace, settings: Settings) -> int:
    """The Slack bot alone: HTTP on --port, or Socket Mode when SLACK_APP_TOKEN is set."""
    # Slack gives up on an ack after 3 s: a database that hangs must fail first, so the
    # person is told nothing started instead of seeing Slack's timeout. 0 turns the
    # bound off (a PgBouncer that refuses the `options` startup parameter).
    parts = connect(settings, db_wait=settings.bot_db_timeout or None)
    exposition = Exposition(parts.db, parts.redis, parts.kinds)
    run_bot(bot_context(parts), port=args.port, host=args.host, exposition=exposition.render)
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Everything on one machine: migrate, a private Redis if needed, a worker, and the bot
    when Slack is configured."""
    if args.sandbox:
        options = SandboxOptions(host=args.host, port=args.port, duration=args.duration)
        return run_sandbox(settings, options)
    require(settings.openai_api_key, "OPENAI_API_KEY", "the worker calls the provider")
    upgrade(settings.database_url)
    env = dict(os.environ)
    redis_process = None
    if not settings.redis_url:
        redis_process = embedded_redis.start(Path(settings.data_dir))
        env["REDIS_URL"] = embedded_redis.socket_url(Path(settings.data_dir))
    share_across_processes(env, settings.data_dir)  # one /metrics for bot and worker
    try:
        return supervise(_spawn(env))
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)


def _spawn(env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    commands = [[sys.executable, "-m", "errand.cli", "worker"]]
    if env.get("SLACK_BOT_TOKEN"):
        commands.append([sys.executable, "-m", "errand.cli", "bot"])
    return [subprocess.Popen(command, env=env) for command in commands]
