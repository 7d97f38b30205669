"""What the bot's listeners and routes share, built once by the process that starts the bot
(the top floor), which also gives it the dispatcher that hands work to the workers."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from models.db import Database
from models.dispatch import Dispatch
from models.kinds import KindsConfig
from models.settings import Settings


@dataclass(frozen=True)
class BotContext:
    """The bot's dependencies, passed explicitly to listeners and routes."""

    settings: Settings
    kinds: KindsConfig
    db: Database
    redis: Redis
    dispatch: Dispatch
