"""`errand bot`: HTTP mode under gunicorn, or Socket Mode when SLACK_APP_TOKEN is set."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication

from errand.runtime import Runtime
from errand.settings import require

if TYPE_CHECKING:
    from bot.web import WSGIApp

log = logging.getLogger(__name__)


def run_bot(runtime: Runtime, *, port: int, host: str = "0.0.0.0") -> None:
    """Serve until stopped."""
    if runtime.settings.slack_app_token is not None:
        _socket_mode(runtime)
        return
    options = {
        "bind": f"{host}:{port}",
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
        "control_socket_disable": True,  # several bots on one host must not share it
    }
    _Gunicorn(lambda: _web(runtime), options).run()


def _web(runtime: Runtime) -> WSGIApp:
    from bot.app import create_app
    from bot.web import create_web

    return create_web(runtime, create_app(runtime))


def _socket_mode(runtime: Runtime) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import create_app

    token = require(runtime.settings.slack_app_token, "SLACK_APP_TOKEN", "Socket Mode needs it")
    log.info("bot in Socket Mode")
    SocketModeHandler(create_app(runtime), token).start()  # type: ignore[no-untyped-call]


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn run from Python; the app is built in the worker, after the fork."""

    def __init__(self, factory: Any, options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        app: WSGIApp = self._factory()
        return app
