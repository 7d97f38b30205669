"""Job kinds: the packaged policy file (or ERRAND_CONFIG) read into typed objects."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

# Reasoning effort (`reasoning.effort` on create) and service tiers a kind may name.
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
Tier = Literal["auto", "default", "flex", "priority"]


class FollowPolicy(BaseModel):
    """Polling backoff: fast while a job is young, slower as it runs long."""

    first_check: float = 1.0
    growth: float = 1.5
    max_interval: float = 30.0

    def interval(self, checks_done: int) -> float:
        """Seconds to wait before the next check, given the checks already made."""
        raw = self.first_check * (self.growth ** max(checks_done, 0))
        return float(min(raw, self.max_interval))


class Price(BaseModel):
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None = None


class Kind(BaseModel):
    """What one kind of job runs (model, instructions, tools) and under which rules."""

    name: str
    title: str
    command: str
    model: str
    lane: str = "background"
    instructions: str = ""
    tools: list[dict[str, Any]] = Field(default_factory=list)
    review: bool = False
    timeout_seconds: int = 3600
    stuck_after_seconds: int = 900
    max_attempts: int = 3
    priority: int = 0
    stream: bool = False
    # A streaming job's progress notice at most this often; `interactive` lane jobs
    # carry the whole answer so far, for the bot to stream into the thread.
    progress_every: float = 10.0
    # How long an interactive answer streams; past it the job carries on in the
    # background (up to `timeout_seconds`) and its result is posted as usual.
    interactive_seconds: float | None = None
    max_input_chars: int = 4000
    # Sent on every create: bounds what one attempt can cost, and prices its estimate.
    max_output_tokens: int = 16_000
    # Asked on create (`flex`: half price, slower); unset: the project's default.
    service_tier: Tier | None = None
    # Reasoning effort asked on create; unset: the model's own default.
    effort: Effort | None = None
    # What a request (`--model`, `[model: …]`) or a channel's defaults may choose instead
    # of the kind's own values above, which are always allowed (models.options).
    models: list[str] = Field(default_factory=list)
    efforts: list[Effort] = Field(default_factory=list)
    tiers: list[Tier] = Field(default_factory=list)
    # Held in `awaiting_approval` before its first create until an approver lets it start:
    # for kinds where a single run costs enough that someone should agree to it first.
    approve_before_start: bool = False
    # Days after a job of this kind ends before its input and output are purged; unset:
    # ERRAND_RETENTION_DAYS (and unset there too: kept).
    retention_days: float | None = Field(default=None, gt=0)
    # Who may continue a job of this kind with a follow-up in its thread: its requester,
    # anyone in the thread, or nobody (the lane has no conversation to continue).
    follow_ups: Literal["requester", "thread", "none"] = "requester"
    follow: FollowPolicy = Field(default_factory=FollowPolicy)
    webhook_follow: FollowPolicy = Field(
        default_factory=lambda: FollowPolicy(first_check=60, growth=2, max_interval=300)
    )

    def allowed(self, option: str) -> list[str]:
        """The values `option` (model, effort or tier) may take for this kind, its own
        first; empty when the kind leaves it to the provider and lists no choices."""
        own = {"model": self.model, "effort": self.effort, "tier": self.service_tier}[option]
        choices: dict[str, list[str]] = {
            "model": self.models,
            "effort": list(self.efforts),
            "tier": list(self.tiers),
        }
        listed = choices[option]
        values = [own] if own else []
        return values + [str(v) for v in listed if v != own]


# Lanes whose jobs need the provider to keep data: a batch's input and output are files
# stored at the provider, so they cannot run under zero data retention (ERRAND_ZDR).
STORED_LANES = frozenset({"batch"})


class KindsConfig(BaseModel):
    """The whole file: kinds by name and the price tables."""

    kinds: dict[str, Kind]
    prices: dict[str, Price] = Field(default_factory=dict)
    tool_prices: dict[str, float] = Field(default_factory=dict)  # USD per call, by tool type
    tiers: dict[str, float] = Field(default_factory=dict)  # token price multiplier per tier

    def get(self, name: str) -> Kind:
        """The kind called `name`; an unknown name is a configuration error."""
        try:
            return self.kinds[name]
        except KeyError:
            known = ", ".join(sorted(self.kinds))
            raise UnknownKind(f"unknown job kind {name!r} (known: {known})") from None

    def by_command(self, command: str) -> Kind | None:
        """The kind a slash command starts, if any."""
        return next((k for k in self.kinds.values() if k.command == command), None)

    def unfit_for_zdr(self) -> list[str]:
        """The kinds that cannot run without data stored at the provider, by name."""
        return sorted(k.name for k in self.kinds.values() if k.lane in STORED_LANES)

    def cost(
        self,
        model: str,
        usage: dict[str, Any] | None,
        *,
        service_tier: str | None = None,
        tool_calls: dict[str, int] | None = None,
    ) -> float | None:
        """USD for `usage` at the model's price in the tier the provider reports, plus the
        tools' per-call charges; None when the model has no price."""
        price = self.prices.get(model)
        if price is None or not usage:
            return None
        cached = int((usage.get("input_tokens_details") or {}).get("cached_tokens") or 0)
        fresh = int(usage.get("input_tokens") or 0) - cached
        output = int(usage.get("output_tokens") or 0)
        cached_price = price.cached_input if price.cached_input is not None else price.input
        tokens = fresh * price.input + cached * cached_price + output * price.output
        tier = self.tiers.get(service_tier or "default", 1.0)
        return round(tokens * tier / 1_000_000 + self._tools(tool_calls or {}), 6)

    def _tools(self, calls: dict[str, int]) -> float:
        return sum(self.tool_prices.get(tool, 0.0) * count for tool, count in calls.items())

    def estimate(
        self, kind: Kind, model: str, input_chars: int, *, rows: int = 1, tier: str | None = None
    ) -> float | None:
        """The most one attempt can cost in tokens: its input (about four characters a
        token, the kind's instructions once per row) and the kind's whole output allowance
        for each of `rows` requests, in `tier`'s prices. Tool calls are not counted: how
        many a model makes is not known before it runs."""
        price = self.prices.get(model)
        if price is None:
            return None
        prompt = math.ceil((input_chars + rows * len(kind.instructions)) / 4)
        tokens = prompt * price.input + rows * kind.max_output_tokens * price.output
        return round(tokens * self.tiers.get(tier or "default", 1.0) / 1_000_000, 6)


class UnknownKind(ValueError):
    """A job names a kind the configuration does not define."""


def load_kinds(path: str | None = None) -> KindsConfig:
    """Read the kinds file, filling each kind from the file's defaults."""
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = resources.files("models").joinpath("kinds.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text) or {}
    defaults = raw.get("defaults") or {}
    kinds = {
        name: Kind.model_validate({**defaults, **(body or {}), "name": name})
        for name, body in (raw.get("kinds") or {}).items()
    }
    return KindsConfig(
        kinds=kinds,
        prices=raw.get("prices") or {},
        tool_prices=raw.get("tool_prices") or {},
        tiers=raw.get("tiers") or {},
    )
