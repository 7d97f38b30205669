"""What `errand` hands the console: the store's parts, who operates it, its token."""

from __future__ import annotations

from dataclasses import dataclass

from models.db import Database
from models.dispatch import Dispatch
from models.kinds import KindsConfig


@dataclass(frozen=True)
class ConsoleConfig:
    """The database and kinds it reads, the dispatcher that carries a cancel to the
    workers (as the buttons' does), its operator and its token."""

    db: Database
    kinds: KindsConfig
    dispatch: Dispatch
    operator: str  # recorded as `console:<operator>` on every action
    token: str | None = None  # ERRAND_CONSOLE_TOKEN; None: loopback only, no login

    @property
    def actor(self) -> str:
        return f"console:{self.operator}"
