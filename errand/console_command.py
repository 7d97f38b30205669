"""`errand console`: the operator's web console (the `console` package), served here.

Without ERRAND_CONSOLE_TOKEN it serves only on loopback and refuses any other host; with
it, every page asks for the token, and the start says so. Actions are recorded as
`console:<operator>`: ERRAND_CONSOLE_OPERATOR, else the user the console runs as.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from console.app import create_app
from console.auth import loopback_name
from console.config import ConsoleConfig
from errand.operator_db import operator_parts
from models.errors import ErrandError
from models.settings import Settings

TOKEN_MIN = 16  # characters: a token anyone could guess protects nothing
OPERATOR_MAX = 56  # `console:` and this fit an event's actor (64)


def console(args: argparse.Namespace, settings: Settings) -> int:
    """Check the token and the host, then serve until stopped."""
    token = _token(settings)
    if token is None and not loopback_name(args.host):
        raise ErrandError(
            f"--host {args.host}: the console serves other hosts only with "
            "ERRAND_CONSOLE_TOKEN set; without it, it listens on 127.0.0.1 alone"
        )
    parts = operator_parts(settings)
    config = ConsoleConfig(parts.db, parts.kinds, parts.dispatch, operator(settings), token)
    server = make_server(
        args.host, args.port, create_app(config), threaded=True, request_handler=_QuietHandler
    )
    print(_started(args.host, server.server_port, token), flush=True)
    server.serve_forever()
    return 0


def _token(settings: Settings) -> str | None:
    if settings.console_token is None or not settings.console_token.get_secret_value():
        return None
    token = settings.console_token.get_secret_value()
    if len(token) < TOKEN_MIN:
        raise ErrandError(f"ERRAND_CONSOLE_TOKEN is shorter than {TOKEN_MIN} characters")
    return token


def operator(settings: Settings) -> str:
    """Who the console's actions are recorded as."""
    chosen = (settings.console_operator or "").strip()
    if not chosen:
        try:
            chosen = getpass.getuser()
        except (KeyError, OSError):  # no login name and no passwd entry (some containers)
            chosen = "operator"
    return chosen[:OPERATOR_MAX]


def _started(host: str, port: int, token: str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    line = f"errand: console at http://{shown}:{port}/"
    if token is not None:
        line += " (every page asks for ERRAND_CONSOLE_TOKEN: the login form, or Bearer)"
    return line


class _QuietHandler(WSGIRequestHandler):
    """No line per request: the console's own log stays readable under `errand run`."""

    def log_request(self, *_args: Any) -> None:
        return None
