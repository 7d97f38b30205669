"""`errand bot`: HTTP mode under gunicorn, or Socket Mode when SLACK_APP_TOKEN is set."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import bot_token, create_app, signing_secret
from bot.context import BotContext
from bot.web import WSGIApp, create_web
from models.settings import require

log = logging.getLogger(__name__)


def run_bot(
    ctx: BotContext,
    *,
    port: int,
    host: str,
    exposition: Callable[[], bytes],
    metrics_port: int | None = None,
) -> None:
    """Serve until stopped. The settings are checked here, before gunicorn starts: a
    worker that failed on them would be restarted forever instead of stopping `errand bot`."""
    bot_token(ctx.settings)
    signing_secret(ctx.settings)
    if ctx.settings.slack_app_token is not None:
        _socket_mode(ctx)
        return
    options = {
        # ERRAND_METRICS_PORT: a second socket that serves only /metrics and /healthz.
        "bind": [f"{host}:{port}", *([f"{host}:{metrics_port}"] if metrics_port else [])],
        # One process keeps /metrics whole, unless multiprocess metrics add them up.
        "workers": 2 if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else 1,
        # Each process listens on its own socket, so the kernel spreads connections
        # between them; on one shared socket the first to accept took most of them.
        "reuse_port": True,
        "worker_class": "gthread",
        "threads": 8,
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
        # gunicorn's own lines follow ERRAND_LOG_LEVEL like everyone else's: a sandbox at
        # WARNING starts and stops without a word.
        "loglevel": ctx.settings.log_level.lower(),
        "control_socket_disable": True,  # several bots on one host must not share it
    }
    _Gunicorn(
        lambda: create_web(ctx, create_app(ctx), exposition, metrics_port=metrics_port), options
    ).run()


def _socket_mode(ctx: BotContext) -> None:
    token = require(ctx.settings.slack_app_token, "SLACK_APP_TOKEN", "Socket Mode needs it")
    log.info("bot in Socket Mode")
    SocketModeHandler(create_app(ctx), token).start()  # type: ignore[no-untyped-call]


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn run from Python; the app is built in the worker, after the fork."""

    def __init__(self, factory: Callable[[], WSGIApp], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        return self._factory()
