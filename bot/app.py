"""The Bolt app: built by `create_app` so tests and processes choose the Slack client."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.context import BotContext
from bot.failures import explain, tell
from bot.listeners import register_listeners
from bot.metrics import REQUESTS
from bot.roles import Roles
from bot.slack import make_client
from models.settings import Settings, require


def bot_token(settings: Settings) -> str:
    """SLACK_BOT_TOKEN, or a stop with one line naming it."""
    return require(settings.slack_bot_token, "SLACK_BOT_TOKEN", "the bot posts to Slack")


def signing_secret(settings: Settings) -> str:
    """SLACK_SIGNING_SECRET in HTTP mode (or a stop with one line naming it); nothing in
    Socket Mode, where no request comes over HTTP to verify."""
    if settings.slack_app_token is not None:
        return ""
    return require(
        settings.slack_signing_secret, "SLACK_SIGNING_SECRET", "HTTP mode verifies every request"
    )


def create_app(ctx: BotContext, *, client: WebClient | None = None) -> App:
    """Bolt (sync) with signing verification, Errand's listeners and one error handler."""
    settings = ctx.settings
    socket_mode = settings.slack_app_token is not None
    if client is None:
        client = make_client(bot_token(settings), settings.slack_api_url)
    secret = signing_secret(settings)
    app = App(
        client=client,
        signing_secret=secret,
        request_verification_enabled=not socket_mode,
        token_verification_enabled=False,  # start even while Slack is briefly unreachable
        # Acks are answered on the request's own thread and the work runs lazily after,
        # instead of Bolt polling every 10 ms for an ack made on another thread.
        process_before_response=True,
        logger=logging.getLogger("bot.bolt"),
    )
    app.use(_count_and_check)
    app.error(handle_error)
    roles = Roles(
        client,
        approvers=settings.approvers,
        oncall=settings.oncall,
        self_approval=settings.allow_self_approval,
    )
    register_listeners(app, ctx, roles)
    return app


def _count_and_check(body: dict[str, Any], next: Any) -> BoltResponse | None:
    """Count the request; signed but incomplete bodies are the sender's error (4xx), not a
    listener crash. One middleware, not two: Bolt builds each one's arguments per request."""
    REQUESTS.labels(str(body.get("type") or ("command" if "command" in body else "other"))).inc()
    if "command" in body and not (body.get("user_id") and body.get("channel_id")):
        return BoltResponse(status=400, body="malformed slash command")
    if body.get("type") == "block_actions" and not (body.get("user") and body.get("actions")):
        return BoltResponse(status=400, body="malformed block_actions")
    next()
    return None


def handle_error(error: Exception, request: BoltRequest) -> BoltResponse:
    """A failure before the ack: answer with a sentence, count it, never a 500 to Slack."""
    tell(request.context.respond, explain(error))
    return BoltResponse(status=200, body="")
