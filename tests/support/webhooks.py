"""OpenAI webhooks in tests: the secret the stand-in signs with and the bot verifies."""

from __future__ import annotations

import base64

from tests.support.slack import BotProcess
from tests.support.stack import Stack

SECRET = "whsec_" + base64.b64encode(b"errand-tests-webhook-secret-0001").decode()


def hook(stack: Stack) -> Stack:
    """OPENAI_WEBHOOK_SECRET for the processes the test starts next (the bot first)."""
    stack.env["OPENAI_WEBHOOK_SECRET"] = SECRET
    return stack


def wire(stack: Stack, bot: BotProcess) -> None:
    """The provider stand-in delivers signed webhooks to the bot, as OpenAI would."""
    stack.openai.configure(webhook_url=f"{bot.url}/openai/webhook", webhook_secret=SECRET)
