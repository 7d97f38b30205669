"""`errand run --sandbox`: the whole of Errand on one machine with no credentials at all.

This process hosts the stand-ins (Slack Web API and OpenAI) and the page that plays the
Slack client on one port, then runs the real bot and a real worker as child processes
wired to them, exactly as production wires them to Slack and OpenAI:

    http://HOST:PORT/            the page (sandbox.ui_server)
    http://HOST:PORT/api/        the Slack Web API stand-in (SLACK_API_URL)
    http://HOST:PORT/_sandbox/   its conversation state, events and response_urls
    http://127.0.0.1:P1/v1       the OpenAI stand-in (OPENAI_BASE_URL), in this process
    http://127.0.0.1:P2/         `errand bot` (signed requests from the page go here)
    http://127.0.0.1:P3/         `errand console` (the page links to it)

Everything lives in `<ERRAND_DATA_DIR>/sandbox-<PORT>/` (SQLite, the private Redis's
socket; see `errand.sandbox_home`) and starts empty each time, because the stand-ins keep
their state in memory. A port in use is refused before anything is touched.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from errand import embedded_redis, sandbox_home, tether
from errand.exposition import share_across_processes
from errand.supervise import spawn, supervise
from models.migrate import upgrade
from models.settings import Settings
from sandbox import openai_api, slack_api
from sandbox.openai_responses import SandboxOpenAISettings
from sandbox.processes import free_port
from sandbox.slack_workspace import SlackSandboxSettings
from sandbox.ui_server import UiConfig, create_ui_app

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# What the sandboxed Errand is told about its workspace (the seeded one in slack_workspace).
SANDBOX_ENV = {
    "ERRAND_APPROVALS_CHANNEL": "C_APPROVALS",
    "ERRAND_APPROVERS": "S_APPROVERS",
    "ERRAND_ONCALL_CHANNEL": "C_ONCALL",
    "ERRAND_ONCALL": "S_ONCALL",
}
# Real settings that would point the sandbox at real services or change its mode.
DROPPED_ENV = ("SLACK_APP_TOKEN", "OPENAI_WEBHOOK_SECRET", "REDIS_URL", "DATABASE_URL")
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class SandboxOptions:
    """`errand run --sandbox [--host H] [--port P] [--duration S]`."""

    host: str = "127.0.0.1"
    port: int = 8800
    duration: float | None = None


@dataclass(frozen=True)
class Credentials:
    """Made up at each start: nothing real is ever needed or sent anywhere."""

    bot_token: str
    signing_secret: str
    openai_key: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(
            bot_token=f"xoxb-sandbox-{secrets.token_hex(8)}",
            signing_secret=secrets.token_hex(16),
            openai_key=f"sk-sandbox-{secrets.token_hex(8)}",
        )


def run_sandbox(settings: Settings, options: SandboxOptions) -> int:
    """Start the stand-ins, the page, the bot and a worker; print the URL; supervise.
    Everything started is stopped on the way out, the private Redis last."""
    if options.port:
        sandbox_home.refuse_busy(options.host, options.port)
    options = replace(options, port=options.port or free_port())
    home = sandbox_home.fresh(sandbox_home.home(Path(settings.data_dir), options.port))
    database_url = sandbox_home.database_url(home)
    upgrade(database_url)
    with ExitStack() as started:
        started.enter_context(embedded_redis.serving(home))
        provider = openai_api.start_in_thread(settings=_provider_settings(options.duration))
        started.callback(provider.stop)
        creds = Credentials.generate()
        ports = Ports(bot=free_port(), console=free_port())
        server = _page_server(options, creds, provider, ports)
        started.callback(_close, server)
        env = _child_env(settings, home, creds, server, provider.base_url, database_url)
        children = _spawn(env, home, ports)
        started.callback(_stop_children, children)
        _wait_ready(f"{ports.bot_url}/healthz", children)
        print(f"errand: sandbox ready at {_page_url(server)}/", flush=True)
        return supervise(children)


@dataclass(frozen=True)
class Ports:
    """Where the sandboxed bot and console listen (loopback)."""

    bot: int
    console: int

    @property
    def bot_url(self) -> str:
        return f"http://127.0.0.1:{self.bot}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console}/"


def _provider_settings(duration: float | None) -> SandboxOpenAISettings:
    """The stand-in's defaults, or every answer taking `duration` seconds (`--duration`)."""
    if duration is None:
        return SandboxOpenAISettings()
    queue = min(1.0, duration / 2)
    return SandboxOpenAISettings(duration_min=duration, duration_max=duration, queue_seconds=queue)


def _page_server(
    options: SandboxOptions,
    creds: Credentials,
    provider: openai_api.RunningSandbox,
    ports: Ports,
) -> BaseWSGIServer:
    """One port for the page and the Slack stand-in, served from a background thread."""
    slack = slack_api.create_app(SlackSandboxSettings(accepted_tokens=frozenset({creds.bot_token})))
    state = slack_api.get_state(slack)
    ui = create_ui_app(
        UiConfig(
            slack=state,
            bot_url=ports.bot_url,
            signing_secret=creds.signing_secret,
            provider=provider.state,
            approvers_group=SANDBOX_ENV["ERRAND_APPROVERS"],
            oncall_group=SANDBOX_ENV["ERRAND_ONCALL"],
            console_url=ports.console_url,
        )
    )
    app = _route(ui.wsgi_app, slack.wsgi_app)
    server = make_server(
        options.host, options.port, app, threaded=True, request_handler=_QuietHandler
    )
    state.public_url = _page_url(server)  # response_urls and file URLs point back here
    threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},  # so a stop returns promptly
        name="sandbox-page",
        daemon=True,
    ).start()
    return server


class _QuietHandler(WSGIRequestHandler):
    """One line per request would bury the URL and the bot's own logs."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _route(ui: WSGIApp, slack: WSGIApp) -> WSGIApp:
    """`/` and `/ui/...` are the page; everything else is the Slack stand-in."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "/")
        target = ui if path == "/" or path.startswith("/ui/") else slack
        return target(environ, start_response)

    return app


def _page_url(server: BaseWSGIServer) -> str:
    host = "127.0.0.1" if server.host in ("0.0.0.0", "") else server.host
    return f"http://{host}:{server.server_port}"


def _child_env(
    settings: Settings,
    home: Path,
    creds: Credentials,
    server: BaseWSGIServer,
    openai_base_url: str,
    database_url: str,
) -> dict[str, str]:
    """The environment of the bot and the worker: every outside service is a stand-in."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(SANDBOX_ENV)
    env.update(
        {
            "SLACK_BOT_TOKEN": creds.bot_token,
            "SLACK_SIGNING_SECRET": creds.signing_secret,
            "SLACK_API_URL": f"{_page_url(server)}/api/",
            "OPENAI_API_KEY": creds.openai_key,
            "OPENAI_BASE_URL": openai_base_url,
            "REDIS_URL": embedded_redis.socket_url(home),
            "DATABASE_URL": database_url,
            "ERRAND_DATA_DIR": str(home),
            "ERRAND_LOG_LEVEL": os.environ.get("ERRAND_LOG_LEVEL", "WARNING"),
        }
    )
    if settings.config_path:
        env["ERRAND_CONFIG"] = str(Path(settings.config_path).resolve())
    share_across_processes(env, str(home))  # one /metrics for bot and worker, as `errand run`
    return env


def _spawn(env: dict[str, str], home: Path, ports: Ports) -> list[subprocess.Popen[bytes]]:
    """The real worker, bot and console; run from `home` so a stray `.env` cannot rewire
    them."""
    bot = ["bot", "--host", "127.0.0.1", "--port", str(ports.bot)]
    console = ["console", "--host", "127.0.0.1", "--port", str(ports.console)]
    commands = [["-m", "errand.cli", "worker"], ["-m", "errand.cli", *bot]]
    return spawn([*commands, ["-m", "errand.cli", *console]], env, home)


def _wait_ready(url: str, children: list[subprocess.Popen[bytes]]) -> None:
    """Until the bot answers healthy; a child that dies first stops the start."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise SystemExit("errand: the sandboxed bot or worker exited at start")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"errand: the sandboxed bot did not answer within {READY_TIMEOUT:.0f} s")


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    """All asked at once, then each awaited: they stop side by side."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        tether.stop(child, timeout=15)


def _close(server: BaseWSGIServer) -> None:
    server.shutdown()
    server.server_close()
