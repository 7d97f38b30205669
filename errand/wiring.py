"""Builds each process's parts from the settings, once: the database, Redis, the kinds,
and for the bot and the worker the context each is given. The only place that puts
the bot's Slack notifier and the worker's RQ dispatcher into the hands of the other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redis import Redis

from bot.context import BotContext
from bot.notifier import SlackNotifier
from errand import embedded_redis
from models.db import Database
from models.kinds import KindsConfig, load_kinds
from models.notifier import LogNotifier, Notifier
from models.settings import Settings, require
from worker.breaker import Breaker, BreakerPolicy
from worker.context import Context
from worker.dispatch import Dispatcher
from worker.provider import Provider, make_openai_client

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Parts:
    """What every Errand process needs, whatever it runs."""

    settings: Settings
    kinds: KindsConfig
    db: Database
    redis: Redis

    @property
    def dispatch(self) -> Dispatcher:
        return Dispatcher(self.redis)


def connect(settings: Settings, *, db_wait: float | None = None) -> Parts:
    """The parts from the settings; `db_wait` bounds every database wait (see
    `models.db.make_engine`). Redis is REDIS_URL, else the embedded Redis `errand run`
    started here, else the local default."""
    redis_url = (
        settings.redis_url or embedded_redis.running_url(Path(settings.data_dir)) or DEFAULT_REDIS
    )
    return Parts(
        settings=settings,
        kinds=load_kinds(settings.config_path),
        db=Database.connect(settings.database_url, wait=db_wait),
        redis=Redis.from_url(redis_url, health_check_interval=30, socket_timeout=10),
    )


def bot_context(parts: Parts) -> BotContext:
    """The bot's context: its cancels are carried out by the workers' stop task."""
    return BotContext(parts.settings, parts.kinds, parts.db, parts.redis, parts.dispatch)


def worker_context(parts: Parts, *, notifier: Notifier | None = None) -> Context:
    """The worker's context; a missing OPENAI_API_KEY stops the process here, in one line.
    Milestones go to Slack when SLACK_BOT_TOKEN is set, to the log otherwise."""
    settings = parts.settings
    key = require(settings.openai_api_key, "OPENAI_API_KEY", "the worker calls the provider")
    breaker = Breaker(parts.redis, BreakerPolicy(cooldown=settings.breaker_cooldown))
    client = make_openai_client(key, max_connections=settings.follow_concurrency * 2)
    return Context(
        settings=settings,
        kinds=parts.kinds,
        db=parts.db,
        redis=parts.redis,
        provider=Provider(client, observers=[breaker.record]),
        breaker=breaker,
        notifier=notifier or _notifier(settings, parts.kinds, parts.redis),
        dispatch=parts.dispatch,
    )


def _notifier(settings: Settings, kinds: KindsConfig, redis: Redis) -> Notifier:
    if settings.slack_bot_token is None:
        return LogNotifier()
    return SlackNotifier.from_settings(settings, kinds, redis)
