"""Builds the process-wide parts (database, Redis, provider, notifier) once, from settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from openai import OpenAI
from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from errand.kinds import KindsConfig, load_kinds
from errand.settings import Settings, require
from models.db import make_engine, make_sessions
from worker.breaker import Breaker, BreakerPolicy
from worker.dispatch import Dispatcher
from worker.notify import LogNotifier, Notifier
from worker.provider import Provider, make_openai_client


@dataclass
class Runtime:
    """What every task and listener needs, passed explicitly from one place."""

    settings: Settings
    kinds: KindsConfig
    engine: Engine
    sessions: sessionmaker[Session]
    redis: Redis
    notifier: Notifier = field(default_factory=LogNotifier)

    @cached_property
    def dispatch(self) -> Dispatcher:
        return Dispatcher(self.redis)

    @cached_property
    def breaker(self) -> Breaker:
        return Breaker(self.redis, BreakerPolicy(cooldown=self.settings.breaker_cooldown))

    @cached_property
    def provider(self) -> Provider:
        return Provider(self.openai, observers=[self.breaker.record])

    @cached_property
    def openai(self) -> OpenAI:
        key = require(
            self.settings.openai_api_key, "OPENAI_API_KEY", "the worker calls the provider"
        )
        return make_openai_client(key, max_connections=self.settings.follow_concurrency * 2)

    @contextmanager
    def unit(self) -> Iterator[Unit]:
        """One transaction; work handed to RQ inside it is enqueued only after commit."""
        unit = Unit(self.sessions())
        try:
            with unit.session.begin():
                yield unit
        finally:
            unit.session.close()
        for action in unit.after_commit:
            action()


class Unit:
    """A session plus the dispatches that must wait for its commit."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.after_commit: list[Callable[[], None]] = []

    def later(self, action: Callable[[], None]) -> None:
        self.after_commit.append(action)


def build_runtime(
    settings: Settings | None = None,
    *,
    notifier: Notifier | None = None,
    db_wait: float | None = None,
) -> Runtime:
    """Everything from the environment; Redis must already be reachable at REDIS_URL.
    `db_wait` bounds every database wait (see `make_engine`)."""
    settings = settings or Settings()
    engine = make_engine(settings.database_url, wait=db_wait)
    redis_url = settings.redis_url or "redis://127.0.0.1:6379/0"
    runtime = Runtime(
        settings=settings,
        kinds=load_kinds(settings.config_path),
        engine=engine,
        sessions=make_sessions(engine),
        redis=Redis.from_url(redis_url, health_check_interval=30, socket_timeout=10),
    )
    if notifier is None and settings.slack_bot_token is not None:
        from bot.notifier import SlackNotifier  # Slack only when configured

        notifier = SlackNotifier.from_settings(settings, runtime.kinds)
    if notifier is not None:
        runtime.notifier = notifier
    return runtime


_current: Runtime | None = None


def current() -> Runtime:
    """The process's runtime, for RQ task entry points (they receive only IDs)."""
    global _current  # noqa: PLW0603  (one per process, built on first use)
    if _current is None:
        _current = build_runtime()
    return _current


def install(runtime: Runtime) -> None:
    """Make `runtime` the one `current()` returns (the worker does this at start)."""
    global _current  # noqa: PLW0603
    _current = runtime
