"""The `errand` command: run the service, operate jobs, migrate the database.

Each subcommand names its handler as `module:function`, imported only when it runs:
`errand jobs show` then loads the database layer alone (about a third of a second)
instead of the Slack and OpenAI clients too (two seconds and more on a busy machine)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from sqlalchemy.exc import DBAPIError

from errand import cost_commands, logs
from models.db import missing_table
from models.errors import ErrandError
from models.settings import Settings
from models.status import JobStatus

JOBS = "errand.job_commands"


def entry() -> NoReturn:
    """The `errand` command. Once the command has finished cleanly, the process ends at
    once: the interpreter's teardown of the Slack, OpenAI, SQLAlchemy and RQ modules costs
    close to a second of CPU (three on a busy machine), which would hold up the prompt
    after Ctrl-C. An uncaught exception still ends the usual way, with its traceback."""
    try:
        code: object = main()
    except SystemExit as stop:  # a missing setting's one line, a gunicorn worker's exit
        code = stop.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, configure logging, run the command; refusals print one line, never a traceback."""
    args = _parser().parse_args(argv)
    settings = Settings()
    logs.setup(settings.log_level)
    handler = _handler(args.handler)
    try:
        code = handler(args, settings)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except ErrandError as refusal:
        print(f"errand: {refusal}", file=sys.stderr)
        return 2
    except DBAPIError as error:
        if not missing_table(error):
            raise
        print("errand: the database has no Errand tables; run `errand db upgrade`", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: whatever we started is stopped on the way out
        return 130
    except BrokenPipeError:  # `errand jobs list | head -1`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a tool killed by SIGPIPE


def _handler(name: str) -> Callable[[argparse.Namespace, Settings], int]:
    module, function = name.split(":")
    found: Callable[[argparse.Namespace, Settings], int] = getattr(
        importlib.import_module(module), function
    )
    return found


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="errand", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="everything on this machine")
    _sandbox_options(run)
    run.set_defaults(handler="errand.commands:run")
    worker = sub.add_parser("worker", help="one worker (scheduler included)")
    worker.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    worker.set_defaults(handler="errand.worker_command:worker")
    bot = sub.add_parser("bot", help="the Slack bot (HTTP, or Socket Mode with SLACK_APP_TOKEN)")
    bot.add_argument("--port", type=int, default=3000)
    bot.add_argument("--host", default="0.0.0.0", help="interface to listen on")
    bot.set_defaults(handler="errand.bot_command:bot")
    _jobs_parser(sub.add_parser("jobs", help="operate jobs without Slack"))
    costs = sub.add_parser("costs", help="what jobs cost, by user, channel or kind")
    cost_commands.add_arguments(costs)
    costs.set_defaults(handler="errand.cost_commands:costs")
    _notices_parser(sub.add_parser("notices", help="Slack news not delivered (yet)"))
    _console_parser(sub.add_parser("console", help="the operator's web console"))
    purge = sub.add_parser("purge", help="apply the retention policy now")
    purge.add_argument("--dry-run", action="store_true", help="say what would go; change nothing")
    purge.set_defaults(handler="errand.purge_command:purge")
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="apply migrations").set_defaults(
        handler="errand.commands:db_upgrade"
    )
    return parser


def _sandbox_options(run: argparse.ArgumentParser) -> None:
    """`run --sandbox`: no credentials; stand-ins play Slack and OpenAI, a page plays Slack."""
    run.add_argument(
        "--sandbox", action="store_true", help="play Slack and OpenAI locally; prints a URL"
    )
    run.add_argument("--host", default="127.0.0.1", help="with --sandbox: the page's address")
    run.add_argument(
        "--port", type=int, default=8800, help="with --sandbox: the page's port (0: any free)"
    )
    run.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --sandbox: how long the provider stand-in takes to answer",
    )


def _console_parser(console: argparse.ArgumentParser) -> None:
    console.add_argument("--port", type=int, default=8900, help="0: any free port")
    console.add_argument(
        "--host", default="127.0.0.1", help="off loopback it needs ERRAND_CONSOLE_TOKEN"
    )
    console.set_defaults(handler="errand.console_command:console")


def _notices_parser(notices: argparse.ArgumentParser) -> None:
    notices.add_argument(
        "--undeliverable", action="store_true", help="only the news Errand gave up on"
    )
    notices.add_argument("--limit", type=int, default=200)
    notices.add_argument("--json", action="store_true")
    notices.set_defaults(handler="errand.notice_commands:notices")


def _jobs_parser(jobs: argparse.ArgumentParser) -> None:
    sub = jobs.add_subparsers(required=True, metavar="ACTION")
    submit = sub.add_parser("submit", help="create a job")
    submit.add_argument("kind")
    submit.add_argument("text")
    submit.add_argument("--user", default="cli")
    submit.add_argument("--channel")
    submit.add_argument("--file", help="a batch job's rows: CSV with a header row, or JSON Lines")
    submit.add_argument("--json", action="store_true")
    submit.set_defaults(handler=f"{JOBS}:jobs_submit")
    listing = sub.add_parser("list", help="jobs, newest first")
    listing.add_argument("--status", choices=[status.value for status in JobStatus])
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=f"{JOBS}:jobs_list")
    show = sub.add_parser("show", help="one job with its events")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=f"{JOBS}:jobs_show")
    for name, handler in (
        ("cancel", f"{JOBS}:jobs_cancel"),
        ("retry", f"{JOBS}:jobs_retry"),
    ):
        action = sub.add_parser(name, help=f"{name} a job")
        action.add_argument("id")
        action.add_argument("--user", default="cli")
        action.set_defaults(handler=handler)


if __name__ == "__main__":
    entry()
