"""The Bolt app: built by `create_app` so tests and processes choose the Slack client."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.listeners import register_listeners
from bot.metrics import ERRORS, REQUESTS
from bot.roles import Roles
from bot.slack import make_client
from errand.errors import ErrandError
from errand.runtime import Runtime
from errand.settings import require
from models.lifecycle import LifecycleError
from worker.notify import NotifyLater

log = logging.getLogger(__name__)


def create_app(runtime: Runtime, *, client: WebClient | None = None) -> App:
    """Bolt (sync) with signing verification, Errand's listeners and one error handler."""
    settings = runtime.settings
    socket_mode = settings.slack_app_token is not None
    if client is None:
        token = require(settings.slack_bot_token, "SLACK_BOT_TOKEN", "the bot posts to Slack")
        client = make_client(token, settings.slack_api_url)
    secret = (
        ""
        if socket_mode
        else require(
            settings.slack_signing_secret,
            "SLACK_SIGNING_SECRET",
            "HTTP mode verifies every request",
        )
    )
    app = App(
        client=client,
        signing_secret=secret,
        request_verification_enabled=not socket_mode,
        token_verification_enabled=False,  # start even while Slack is briefly unreachable
        logger=logging.getLogger("bot.bolt"),
    )
    app.use(_count_request)
    app.use(_require_shape)
    app.error(handle_error)
    roles = Roles(client, approvers=settings.approvers, oncall=settings.oncall)
    register_listeners(app, runtime, roles)
    return app


def _count_request(body: dict[str, Any], next: Any) -> None:
    REQUESTS.labels(str(body.get("type") or ("command" if "command" in body else "other"))).inc()
    next()


def _require_shape(body: dict[str, Any], next: Any) -> BoltResponse | None:
    """Signed but incomplete bodies are the sender's error (4xx), not a listener crash."""
    if "command" in body and not (body.get("user_id") and body.get("channel_id")):
        return BoltResponse(status=400, body="malformed slash command")
    if body.get("type") == "block_actions" and not (body.get("user") and body.get("actions")):
        return BoltResponse(status=400, body="malformed block_actions")
    next()
    return None


def handle_error(error: Exception, body: dict[str, Any], request: BoltRequest) -> BoltResponse:
    """Known refusals become their sentence; anything else a reference an operator can grep."""
    if isinstance(error, ErrandError | LifecycleError):
        code, text = error.code, str(error)
    elif isinstance(error, NotifyLater):
        code, text = "slack_busy", "Slack is busy right now; please try again in a minute."
    else:
        code = "unexpected"
        ref = secrets.token_hex(4)
        log.error("listener failed (ref %s)", ref, exc_info=error, extra={"ref": ref})
        text = f"Something went wrong on Errand's side (ref `{ref}`)."
    ERRORS.labels(code).inc()
    _tell(request, text)
    return BoltResponse(status=200, body="")


def _tell(request: BoltRequest, text: str) -> None:
    respond = request.context.respond
    if respond is None:
        return
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception:  # the person may not be reachable; the log has the error already
        log.warning("could not deliver an error message", exc_info=True)
