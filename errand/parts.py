"""What every Errand process connects to, built once from the settings: the database,
Redis, the kinds and the RQ dispatcher. Light on purpose: `errand jobs ...` needs only
this, not the Slack and OpenAI clients (see `errand.wiring`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redis import Redis

from errand import embedded_redis
from models.db import Database
from models.kinds import KindsConfig, load_kinds
from models.settings import Settings
from worker.dispatch import Dispatcher

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


def refuse_unfit_kinds(settings: Settings, kinds: KindsConfig) -> None:
    """Under zero data retention, stop at start with one line naming the kinds of the
    operator's own kinds file that need data stored at the provider, rather than accept
    jobs no worker can run. (The packaged kinds drop theirs: `_kinds`.)"""
    unfit = kinds.unfit_for_zdr() if settings.zdr else []
    if unfit:
        raise SystemExit(
            f"errand: ERRAND_ZDR=1 cannot run kinds {', '.join(unfit)}: the batch lane needs "
            "files stored at the provider; remove them from ERRAND_CONFIG or unset ERRAND_ZDR."
        )


def _kinds(settings: Settings) -> KindsConfig:
    """The kinds file; under zero data retention the packaged one leaves out the kinds
    that need data stored at the provider (`/batch` then says it is not set up)."""
    kinds = load_kinds(settings.config_path)
    if not settings.zdr or settings.config_path:
        return kinds
    return kinds.model_copy(
        update={"kinds": {n: k for n, k in kinds.kinds.items() if n not in kinds.unfit_for_zdr()}}
    )


def connect(settings: Settings, *, db_wait: float | None = None) -> Parts:
    """The parts from the settings; `db_wait` bounds every database wait (see
    `models.db.make_engine`). Redis is REDIS_URL, else the embedded Redis `errand run`
    started here, else the local default."""
    redis_url = (
        settings.redis_url or embedded_redis.running_url(Path(settings.data_dir)) or DEFAULT_REDIS
    )
    return Parts(
        settings=settings,
        kinds=_kinds(settings),
        db=Database.connect(
            settings.database_url, wait=db_wait, connections=settings.db_connections
        ),
        redis=Redis.from_url(redis_url, health_check_interval=30, socket_timeout=10),
    )
