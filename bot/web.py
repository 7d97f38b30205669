"""The bot's HTTP face (served by gunicorn): Slack events, health and metrics."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from sqlalchemy import text

from bot.webhook import register_webhook
from errand.metrics import Exposition
from errand.runtime import Runtime


def create_web(runtime: Runtime, bolt: App) -> Flask:
    """POST /slack/events, GET /healthz, GET /metrics (and POST /openai/webhook if enabled)."""
    web = Flask("errand.bot")
    handler = SlackRequestHandler(bolt)
    exposition = Exposition(runtime)

    @web.post("/slack/events")
    def events() -> Response:
        try:
            return handler.handle(request)
        except (ValueError, KeyError, TypeError, AttributeError):
            # Malformed bodies (bad JSON in `payload`, wrong shapes) are the sender's error.
            return Response("malformed request", status=400)

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        checks = health(runtime)
        ok = all(value == "ok" for value in checks.values())
        return jsonify(checks), 200 if ok else 503

    @web.get("/metrics")
    def metrics() -> Response:
        return Response(exposition.render(), mimetype=CONTENT_TYPE_LATEST)

    register_webhook(web, runtime)
    return web


def health(runtime: Runtime) -> dict[str, Any]:
    """Each dependency's state: "ok" or the error that says why not."""
    return {"database": _check(lambda: _ping_db(runtime)), "redis": _check(runtime.redis.ping)}


def _ping_db(runtime: Runtime) -> None:
    with runtime.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _check(probe: Any) -> str:
    try:
        probe()
    except Exception as exc:  # any failure is "unhealthy"; the body says which and why
        return f"error: {type(exc).__name__}"
    return "ok"
