"""Slack's documented rate limits, enforced per method for the whole workspace.

Slack limits each Web API method "per app per workspace" by tier (Tier 1: 1+ per
minute, Tier 2: 20+, Tier 3: 50+, Tier 4: 100+) and a few methods specially:
`chat.postMessage` about one message per second per channel, and since May 2025
`conversations.history`/`conversations.replies` one request per minute for commercially
distributed non-Marketplace apps. Each budget is a token bucket holding a modest burst
and refilling at the documented rate. Over budget, Slack answers HTTP 429 with
`Retry-After` (seconds until the call would be allowed) and `{"error": "ratelimited"}`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from sandbox.slack_common import SlackError
from sandbox.slack_config import RuntimeSettings

JSON = dict[str, Any]


@dataclass(frozen=True)
class Budget:
    """`per_minute` calls refill a bucket holding at most `burst`; `per_channel` keys by channel."""

    name: str
    per_minute: float
    burst: float
    per_channel: bool = False

    def scaled(self, factor: float) -> Budget:
        """The budget times a multiplier (never below one call of burst)."""
        return Budget(
            self.name, self.per_minute * factor, max(1.0, self.burst * factor), self.per_channel
        )

    def describe(self) -> JSON:
        scope = "per channel" if self.per_channel else "per workspace"
        return {
            "tier": self.name,
            "per_minute": self.per_minute,
            "burst": self.burst,
            "scope": scope,
        }


TIER_1 = Budget("tier1", 1, 2)
TIER_2 = Budget("tier2", 20, 10)
TIER_3 = Budget("tier3", 50, 20)
TIER_4 = Budget("tier4", 100, 50)
# "Posting messages: 1 per second. Short bursts >1 allowed." (per channel)
POST_MESSAGE = Budget("special: 1 per second per channel", 60, 3, per_channel=True)
# auth.test: "special: hundreds of requests per minute".
AUTH_TEST = Budget("special: hundreds per minute", 200, 50)
# The 2025 limit for non-Marketplace distributed apps: 1 request per minute, no burst.
HISTORY_RESTRICTED = Budget("special: 1 per minute (non-Marketplace app)", 1, 1)
HISTORY_METHODS = frozenset({"conversations.history", "conversations.replies"})

METHOD_BUDGETS: dict[str, Budget] = {
    "auth.test": AUTH_TEST,
    "users.info": TIER_4,
    "usergroups.users.list": TIER_2,
    "conversations.open": TIER_3,
    "conversations.info": TIER_3,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "chat.postMessage": POST_MESSAGE,
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "chat.postEphemeral": TIER_4,
    "chat.getPermalink": TIER_4,
    "chat.startStream": TIER_2,
    "chat.appendStream": TIER_4,
    "chat.stopStream": TIER_2,
    "views.open": TIER_4,
    "views.push": TIER_4,
    "views.update": TIER_4,
    "views.publish": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    "files.info": TIER_4,
    "reactions.add": TIER_3,
    "reactions.get": TIER_3,
    "reactions.remove": TIER_2,
    "agents.sessions.setStatus": TIER_3,
}


def budget_for(method: str, config: RuntimeSettings) -> Budget | None:
    """The budget a method gets under `config`, or `None` when it is not limited."""
    factor = config.rate_multiplier()
    base = METHOD_BUDGETS.get(method)
    if factor is None or base is None:
        return None
    if method in HISTORY_METHODS and config.history_is_restricted():
        base = HISTORY_RESTRICTED
    return base.scaled(factor)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per (method[, channel]); callers hold the state lock."""

    def __init__(self) -> None:
        self.buckets: dict[tuple[str, str], _Bucket] = {}

    def clear(self) -> None:
        self.buckets.clear()

    def take(self, method: str, channel: str | None, config: RuntimeSettings) -> None:
        """Spend one call of `method`'s budget, or raise Slack's 429 `ratelimited`."""
        budget = budget_for(method, config)
        if budget is None:
            return
        key = (method, (channel or "") if budget.per_channel else "")
        bucket = self._refilled(key, budget)
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) * 60 / budget.per_minute
            retry_after = str(max(1, math.ceil(wait)))
            raise SlackError("ratelimited", status=429, headers={"Retry-After": retry_after})
        bucket.tokens -= 1

    def _refilled(self, key: tuple[str, str], budget: Budget) -> _Bucket:
        now = time.monotonic()
        bucket = self.buckets.setdefault(key, _Bucket(budget.burst, now))
        earned = (now - bucket.updated) * budget.per_minute / 60
        bucket.tokens = min(budget.burst, bucket.tokens + earned)
        bucket.updated = now
        return bucket


def describe(config: RuntimeSettings) -> JSON:
    """The table in force: each limited method with its tier, rate, burst and scope."""
    methods = {}
    for method in sorted(METHOD_BUDGETS):
        budget = budget_for(method, config)
        methods[method] = budget.describe() if budget else None
    return {
        "ok": True,
        "rate_limits": config.rate_limits,
        "distribution": config.distribution,
        "methods": methods,
    }
