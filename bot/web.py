"""The bot's HTTP face (served by gunicorn): Slack events, health and metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text

from bot.context import BotContext
from bot.webhook import register_webhook

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
SLACK_PATH = "/slack/events"


def create_web(
    ctx: BotContext, bolt: App, exposition: Callable[[], bytes], *, metrics_port: int | None = None
) -> WSGIApp:
    """POST /slack/events, GET /healthz, GET /metrics (and POST /openai/webhook if enabled);
    on `metrics_port`, only the last two, so Prometheus need not reach Slack's port.

    `exposition` renders the Prometheus text; the top floor composes it, since it adds
    up every process's counters and the queue depths the bot knows nothing of.
    """
    web = Flask("errand.bot")

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        checks = health(ctx)
        ok = all(value == "ok" for value in checks.values())
        return jsonify(checks), 200 if ok else 503

    @web.get("/metrics")
    def metrics() -> Response:
        return Response(exposition(), mimetype=CONTENT_TYPE_LATEST)

    register_webhook(web, ctx)
    app = _slack_first(SlackRequestHandler(bolt, SLACK_PATH), web.wsgi_app)
    return app if metrics_port is None else _metrics_port_apart(app, str(metrics_port))


def _metrics_port_apart(app: WSGIApp, port: str) -> WSGIApp:
    """Requests to the metrics port reach only GET /metrics and /healthz."""

    def apart(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        allowed = environ.get("PATH_INFO") in ("/metrics", "/healthz")
        if environ.get("SERVER_PORT") == port and not allowed:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"only /metrics and /healthz are served on this port"]
        return app(environ, start_response)

    return apart


def _slack_first(slack: WSGIApp, rest: WSGIApp) -> WSGIApp:
    """Slack's requests go straight to Bolt's WSGI adapter, the rest to Flask: Flask's
    contexts cost a slash command 6 % of the bot's CPU and gave Slack nothing."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != SLACK_PATH or environ.get("REQUEST_METHOD") != "POST":
            return rest(environ, start_response)
        try:
            return slack(environ, start_response)
        except (ValueError, KeyError, TypeError, AttributeError):
            # Malformed bodies (bad JSON in `payload`, wrong shapes) are the sender's error.
            start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"malformed request"]

    return app


def health(ctx: BotContext) -> dict[str, Any]:
    """Each dependency's state: "ok" or the error that says why not."""
    return {"database": _check(lambda: _ping_db(ctx)), "redis": _check(ctx.redis.ping)}


def _ping_db(ctx: BotContext) -> None:
    with ctx.db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _check(probe: Any) -> str:
    try:
        probe()
    except Exception as exc:  # any failure is "unhealthy"; the body says which and why
        return f"error: {type(exc).__name__}"
    return "ok"
