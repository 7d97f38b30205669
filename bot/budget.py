"""Slack's rate limits as a budget every worker shares, spent by plan instead of by 429s.

Slack limits each Web API method per workspace (tiers: `chat.update` is Tier 3, about
50 a minute) and `chat.postMessage` per channel (about one a second). One token bucket
per method (per channel for posts) lives in Redis, so all workers draw on the same
budget; a call takes a token or learns how long to wait, and makes no call meanwhile.
A 429 that still happens pauses that method for its `Retry-After` on every worker.
Each bucket runs a little under Slack's rate, for clocks that disagree. Losing Redis
makes the budget open (calls go out, and Slack's own 429s still pace them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PREFIX = "errand:slack"
LOST_FOR = 3600  # a channel Errand cannot post in is not tried again for an hour


@dataclass(frozen=True)
class Rate:
    """`per_minute` calls, with bursts of up to `burst` (the bucket's size)."""

    per_minute: float
    burst: int
    per_channel: bool = False


# Slack's documented limits (api.slack.com/apis/rate-limits), each kept 10 % under, with
# bursts smaller than Slack allows: calls reach Slack with some jitter, and a burst
# that arrives bunched up must still fit.
TIER2, TIER3, TIER4 = Rate(18, 5), Rate(45, 10), Rate(90, 20)
RATES: dict[str, Rate] = {
    "chat.postMessage": Rate(54, 2, per_channel=True),
    "chat.update": TIER3,
    "chat.getPermalink": TIER4,
    "chat.startStream": TIER2,
    "chat.appendStream": TIER4,
    "chat.stopStream": TIER2,
    "conversations.open": TIER3,
    "conversations.replies": Rate(0.9, 1),  # non-Marketplace apps: one a minute
    "conversations.history": Rate(0.9, 1),  # the same
    "agents.sessions.setStatus": TIER3,
    "reactions.add": TIER3,
    "reactions.remove": TIER2,
    "files.getUploadURLExternal": TIER4,
    "files.completeUploadExternal": TIER4,
    "usergroups.users.list": TIER2,
}

# KEYS[1] bucket, KEYS[2] pause; ARGV rate per second, size, take (1 or 0), keep.
# Returns seconds to wait (0: a token was taken), using Redis's clock for every worker;
# a take that must `keep` tokens for more urgent calls waits until there are more.
_TAKE = """
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return tostring(pause / 1000) end
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local rate, size = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or size
local at = tonumber(state[2]) or t
tokens = math.min(size, tokens + (t - at) * rate)
if ARGV[3] == '0' then return tostring(-math.floor(tokens)) end
local need = 1 + tonumber(ARGV[4])
if tokens < need then return tostring((need - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tokens - 1, 'at', t)
redis.call('EXPIRE', KEYS[1], math.ceil(size / rate) + 60)
return '0'
"""


class Budget:
    """The shared Slack call budget: take a token before a call, pause after a 429."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._take = redis.register_script(_TAKE)

    @property
    def redis(self) -> Redis:
        """The Redis the budget keeps its buckets in (the bot's small shared state)."""
        return self._redis

    def wait(self, method: str, channel: str | None = None, *, keep: int = 0) -> float:
        """Take a token for one call; 0.0 when it may go now, else seconds to wait.
        `keep` leaves that many tokens for more urgent calls (a result before a note)."""
        rate = RATES.get(method)
        if rate is None:
            return 0.0
        return max(self._run(method, rate, channel, take=True, keep=keep), 0.0)

    def available(self, method: str) -> int:
        """Whole calls `method` may make now (tokens left), without taking any."""
        rate = RATES.get(method)
        if rate is None:
            return 1_000_000
        left = self._run(method, rate, None, take=False, keep=0)
        return int(-left) if left <= 0 else 0

    def lose(self, channel: str) -> None:
        """Slack said Errand cannot post in `channel` (archived, removed, deleted): every
        worker stops calling there for a while and reaches people another way."""
        try:
            self._redis.set(f"{PREFIX}:lost:{channel}", "1", ex=LOST_FOR)
        except RedisError:
            log.warning("lost channel not shared", extra={"channel": channel})

    def is_lost(self, channel: str | None) -> bool:
        if not channel:
            return False
        try:
            return bool(self._redis.exists(f"{PREFIX}:lost:{channel}"))
        except RedisError:
            return False

    def pause(self, method: str, seconds: float, channel: str | None = None) -> None:
        """Slack said 429: no worker calls `method` (there) for `seconds`."""
        _, paused = self._keys(method, RATES.get(method), channel)
        try:
            self._redis.set(paused, "1", px=max(int(seconds * 1000), 1))
        except RedisError:
            log.warning("Slack pause not shared", extra={"method": method})

    def _run(self, method: str, rate: Rate, channel: str | None, *, take: bool, keep: int) -> float:
        args = [rate.per_minute / 60, rate.burst, int(take), keep]
        try:
            return float(self._take(keys=list(self._keys(method, rate, channel)), args=args))
        except RedisError:
            return 0.0 if take else -float(rate.burst)

    @staticmethod
    def _keys(method: str, rate: Rate | None, channel: str | None) -> tuple[str, str]:
        """The bucket and pause keys: per channel for per-channel limits."""
        where = f"{method}:{channel}" if rate and rate.per_channel and channel else method
        return f"{PREFIX}:bucket:{where}", f"{PREFIX}:pause:{where}"
