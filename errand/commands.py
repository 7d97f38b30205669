"""`errand run` (everything on one machine) and `errand db upgrade`. The parser lives in
`errand.cli`; the worker and the bot alone are `errand.worker_command` and
`errand.bot_command`, so each process loads only its own side."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
from contextlib import ExitStack
from pathlib import Path

from errand import embedded_redis
from errand.exposition import share_across_processes
from errand.parts import refuse_unfit_kinds
from errand.sandbox_mode import SandboxOptions, run_sandbox
from errand.supervise import spawn, supervise
from models.errors import ErrandError
from models.kinds import load_kinds
from models.migrate import upgrade
from models.settings import Settings, require

LOOPBACK = "127.0.0.1"
CONSOLE_PORT = 8900


def db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("errand: database is at the newest schema")
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Everything on one machine: migrate, a private Redis if needed, a worker, the bot
    when Slack is configured, and the console (which prints its URL)."""
    refuse_unfit_kinds(settings, load_kinds(settings.config_path))
    if args.sandbox:
        options = SandboxOptions(host=args.host, port=args.port, duration=args.duration)
        return run_sandbox(settings, options)
    require(settings.openai_api_key, "OPENAI_API_KEY", "the worker calls the provider")
    upgrade(settings.database_url)
    env = dict(os.environ)
    with ExitStack() as private:  # the private Redis stops last, whatever happened
        if not settings.redis_url:
            env["REDIS_URL"] = private.enter_context(
                embedded_redis.serving(Path(settings.data_dir))
            )
        share_across_processes(env, settings.data_dir)  # one /metrics for bot and worker
        return supervise(_children(env))


def _children(env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """A worker, the bot when Slack is configured, and the console on loopback (on
    CONSOLE_PORT, or the next port free there). ERRAND_METRICS_PORT goes to one of them,
    the bot when there is one: its /metrics adds up the worker's counters too."""
    worker = ["-m", "errand.cli", "worker"]
    port = str(first_free_port(LOOPBACK, CONSOLE_PORT))
    console = ["-m", "errand.cli", "console", "--host", LOOPBACK, "--port", port]
    quiet = {name: value for name, value in env.items() if name != "ERRAND_METRICS_PORT"}
    if not env.get("SLACK_BOT_TOKEN"):
        return spawn([worker], env) + spawn([console], quiet)
    return spawn([worker, console], quiet) + spawn([["-m", "errand.cli", "bot"]], env)


def first_free_port(host: str, start: int, tries: int = 100) -> int:
    """`start`, or the first port after it that nothing listens on at `host`."""
    for port in range(start, start + tries):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise ErrandError(f"no free port for the console at {host}:{start}-{start + tries - 1}")
