"""POST /openai/webhook: a provider delivery makes its job's check due now.

The route only verifies and hands over: it marks the job due in the database and
wakes the follow pulse, which retrieves every marked response in one batch and
applies what the provider says now. A repeated, late or out-of-order delivery
therefore cannot move a job anywhere the provider has not reached, and the
lifecycle's compare-and-set makes a second finish a no-op.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from openai import InvalidWebhookSignatureError, OpenAI

from bot.context import BotContext
from bot.metrics import WEBHOOKS
from models.signals import response_changed

log = logging.getLogger(__name__)

# `response.*` for a response, `batch.*` for a batch: either makes its job's check due.
EVENTS = ("response.", "batch.")


def register_webhook(web: Flask, ctx: BotContext) -> None:
    """Add the route when OPENAI_WEBHOOK_SECRET is set (CONTRACT.md); otherwise nothing."""
    secret = ctx.settings.openai_webhook_secret
    if secret is None or not secret.get_secret_value():
        return
    # Only `webhooks.unwrap` is used: no request is ever made with this client.
    verifier = OpenAI(api_key="unused-for-verification", webhook_secret=secret.get_secret_value())

    @web.post("/openai/webhook")
    def openai_webhook() -> Response:
        body = request.get_data()
        try:
            event = verifier.webhooks.unwrap(body, dict(request.headers))
        except (InvalidWebhookSignatureError, ValueError) as exc:
            WEBHOOKS.labels("bad_signature").inc()
            log.warning("webhook refused", extra={"reason": str(exc)})
            return Response("invalid signature", status=400)
        return _accept(ctx, str(event.type), _response_id(event))


def _response_id(event: object) -> str | None:
    data = getattr(event, "data", None)
    found = getattr(data, "id", None)
    return str(found) if found else None


def _accept(ctx: BotContext, kind: str, response_id: str | None) -> Response:
    if not kind.startswith(EVENTS) or response_id is None:
        WEBHOOKS.labels("ignored").inc()
        return Response(status=204)
    if not response_changed(ctx.db, ctx.redis, response_id):
        WEBHOOKS.labels("duplicate").inc()  # settled already, or not one of ours
        return Response(status=204)
    WEBHOOKS.labels("accepted").inc()
    return Response(status=202)
