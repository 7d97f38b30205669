"""Builds the bot's and the worker's context from the parts. The only place that puts
the bot's Slack notifier and the worker's RQ dispatcher into the hands of the other."""

from __future__ import annotations

from redis import Redis

from bot.context import BotContext
from bot.notifier import SlackNotifier
from errand.parts import Parts
from models.kinds import KindsConfig
from models.notifier import LogNotifier, Notifier
from models.settings import Settings, require
from worker.breaker import Breaker, BreakerPolicy
from worker.context import Context
from worker.openai_client import make_openai_client
from worker.pace import Pace
from worker.provider import Provider


def bot_context(parts: Parts) -> BotContext:
    """The bot's context: its cancels are carried out by the workers' stop task."""
    return BotContext(parts.settings, parts.kinds, parts.db, parts.redis, parts.dispatch)


def worker_context(parts: Parts, *, notifier: Notifier | None = None) -> Context:
    """The worker's context; a missing OPENAI_API_KEY stops the process here, in one line.
    Milestones go to Slack when SLACK_BOT_TOKEN is set, to the log otherwise."""
    settings = parts.settings
    key = require(settings.openai_api_key, "OPENAI_API_KEY", "the worker calls the provider")
    breaker = Breaker(parts.redis, BreakerPolicy(cooldown=settings.breaker_cooldown))
    pace = Pace(parts.redis)
    client = make_openai_client(
        key, max_connections=settings.follow_concurrency * 2, on_answer=pace.observe
    )
    return Context(
        settings=settings,
        kinds=parts.kinds,
        db=parts.db,
        redis=parts.redis,
        provider=Provider(client, observers=[breaker.record]),
        breaker=breaker,
        pace=pace,
        notifier=notifier or _notifier(settings, parts.kinds, parts.redis),
        dispatch=parts.dispatch,
    )


def _notifier(settings: Settings, kinds: KindsConfig, redis: Redis) -> Notifier:
    if settings.slack_bot_token is None:
        return LogNotifier()
    return SlackNotifier.from_settings(settings, kinds, redis)
