"""Errand's configuration, read once from the environment into one typed object."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.db import CONNECTIONS


def _split_ids(value: object) -> list[str]:
    """Accept `U1, U2,S3` as written in an env file."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(part).strip() for part in value if str(part).strip()]
    return []


class Settings(BaseSettings):
    """Every variable of CONTRACT.md; secrets stay `SecretStr` so they never print."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # Slack closes a stream about five minutes after it starts: a job's plan moves on to a
    # fresh streamed message this many seconds after its last one started.
    slack_stream_seconds: float = Field(default=270.0, gt=0, alias="ERRAND_SLACK_STREAM_SECONDS")
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_webhook_secret: SecretStr | None = None
    redis_url: str | None = None
    database_url: str = "sqlite:///errand.db"
    # The most PostgreSQL connections one process keeps: processes times this must stay
    # under the server's max_connections.
    db_connections: int = Field(default=CONNECTIONS, ge=1, alias="ERRAND_DB_CONNECTIONS")
    approvals_channel: str | None = Field(default=None, alias="ERRAND_APPROVALS_CHANNEL")
    approvers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="ERRAND_APPROVERS"
    )
    oncall_channel: str | None = Field(default=None, alias="ERRAND_ONCALL_CHANNEL")
    oncall: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="ERRAND_ONCALL")
    config_path: str | None = Field(default=None, alias="ERRAND_CONFIG")
    follow_interval: float = Field(default=0.5, alias="ERRAND_FOLLOW_INTERVAL")
    follow_batch: int = Field(default=500, alias="ERRAND_FOLLOW_BATCH")
    follow_concurrency: int = Field(default=32, alias="ERRAND_FOLLOW_CONCURRENCY")
    # Background responses each worker follows over their event streams (worker.stream_reader);
    # the rest are polled. 0: every job is polled (and `stream` kinds show no progress).
    streams_per_worker: int = Field(default=2000, ge=0, alias="ERRAND_STREAMS_PER_WORKER")
    breaker_cooldown: int = Field(default=15, alias="ERRAND_BREAKER_COOLDOWN")
    start_lease: float = Field(default=60.0, alias="ERRAND_START_LEASE")
    create_unknown_wait: float = Field(default=60.0, ge=0, alias="ERRAND_CREATE_UNKNOWN_WAIT")
    budget_user_daily_usd: float | None = Field(
        default=None, gt=0, alias="ERRAND_BUDGET_USER_DAILY_USD"
    )
    max_active_per_user: int | None = Field(default=None, ge=1, alias="ERRAND_MAX_ACTIVE_PER_USER")
    data_dir: str = Field(default=".errand", alias="ERRAND_DATA_DIR")
    log_level: str = Field(default="INFO", alias="ERRAND_LOG_LEVEL")
    metrics_port: int | None = Field(default=None, alias="ERRAND_METRICS_PORT")
    bot_db_timeout: float = Field(default=2.0, ge=0, alias="ERRAND_BOT_DB_TIMEOUT")
    retention_days: float | None = Field(default=None, gt=0, alias="ERRAND_RETENTION_DAYS")
    retention_archive: str | None = Field(default=None, alias="ERRAND_RETENTION_ARCHIVE")
    retention_interval: float = Field(default=3600.0, gt=0, alias="ERRAND_RETENTION_INTERVAL")
    allow_self_approval: bool = Field(default=False, alias="ERRAND_ALLOW_SELF_APPROVAL")
    # A job no approver decided on within this long expires (its requester may ask again);
    # 0: it waits for as long as it takes.
    approval_wait_hours: float = Field(default=72.0, ge=0, alias="ERRAND_APPROVAL_WAIT_HOURS")
    # Zero data retention: no create carries `background=true` or `store=true`; each job
    # is a stream a worker holds in one of its `zdr_slots` (worker.held).
    zdr: bool = Field(default=False, alias="ERRAND_ZDR")
    zdr_slots: int = Field(default=8, ge=1, alias="ERRAND_ZDR_SLOTS")
    # The web console: its token (required off loopback), and who its actions are recorded
    # as (`console:<operator>`; unset: the user the console runs as).
    console_token: SecretStr | None = Field(default=None, alias="ERRAND_CONSOLE_TOKEN")
    console_operator: str | None = Field(default=None, alias="ERRAND_CONSOLE_OPERATOR")

    @field_validator("approvers", "oncall", mode="before")
    @classmethod
    def _ids(cls, value: object) -> list[str]:
        return _split_ids(value)

    @property
    def webhooks_enabled(self) -> bool:
        return self.openai_webhook_secret is not None


class MissingSetting(SystemExit):
    """Stops a process at start with one line naming the variable, never a traceback."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"errand: {name} is not set; {why}.")


def require(value: SecretStr | None, name: str, why: str) -> str:
    """Unwrap a required secret or stop with a clear line."""
    if value is None or not value.get_secret_value():
        raise MissingSetting(name, why)
    return value.get_secret_value()
