"""What a worker's pulses and tasks share: built once by the process that starts the worker
(the top floor), which also decides which notifier tells people about jobs."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis import Redis

from models.db import Database
from models.dispatch import Dispatch
from models.kinds import KindsConfig
from models.notifier import Notifier
from models.settings import Settings
from worker.breaker import Breaker
from worker.pace import Pace
from worker.provider import Provider
from worker.right_of_way import RightOfWay


@dataclass(frozen=True)
class Context:
    """The worker's dependencies, passed explicitly to every pulse and task."""

    settings: Settings
    kinds: KindsConfig
    db: Database
    redis: Redis
    provider: Provider
    breaker: Breaker
    pace: Pace  # the provider's request budget, shared by every worker's launches
    notifier: Notifier
    dispatch: Dispatch
    right_of_way: RightOfWay = field(default_factory=RightOfWay)  # results before starts
