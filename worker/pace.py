"""The provider's pace: launch as fast as its request budget allows, shared by every worker.

OpenAI answers every call with its budget (`x-ratelimit-limit-requests`,
`x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests`: a bucket that refills
continuously, full a minute's allowance after `reset`) and refuses a call past it with
429 and `retry-after`. The answers to creates are noted in Redis, so every worker spends
from the same budget: a launch round takes its share from the level the provider last
reported plus what refilled since, keeping `RESERVE` of the limit for the reads and
cancels of jobs in flight. A 429 pauses every worker's launches for its `retry-after`.

Launching within the budget keeps 429s rare; a storm of them (another client of the same
organisation spending it) still counts against the provider's health (`worker.breaker`).

OpenAI's budgets are per model; this keeps one, the latest reported, which is right
while one model takes the bulk of the launches and errs on the side of waiting otherwise.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping

import httpx2
from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY = "errand:pace"
PAUSE = "errand:pace:pause"
RESERVE = 0.05  # of the request limit, kept for reads and cancels
FORGET = 120  # seconds: a budget nobody reported for this long is the provider's to tell again
CREATES = ("/responses", "/batches")  # POST paths that start work (a cancel ends in /cancel)
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")

# Take up to ARGV[2] launches from the budget's level now (refilled since it was noted),
# leaving ARGV[3] of it; none while a 429 pause holds.
_TAKE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local b = redis.call('HMGET', KEYS[1], 'level', 'limit', 'at')
local wanted = tonumber(ARGV[2])
if not (b[1] and b[2] and b[3]) then return wanted end
local now, level, limit = tonumber(ARGV[1]), tonumber(b[1]), tonumber(b[2])
level = math.min(limit, level + math.max(0, now - tonumber(b[3])) * limit / 60000)
local take = math.max(0, math.min(wanted, math.floor(level - limit * tonumber(ARGV[3]))))
redis.call('HSET', KEYS[1], 'level', level - take, 'at', now)
return take
"""
# Return launches taken and not used (fewer jobs were queued), to a budget still known.
_GIVE = """
if redis.call('HEXISTS', KEYS[1], 'limit') == 1 then
  redis.call('HINCRBYFLOAT', KEYS[1], 'level', ARGV[1])
end
"""


def seconds(text: str) -> float | None:
    """A duration as the API writes it (`6ms`, `1.5s`, `1m30s`), in seconds."""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


class Pace:
    """The request budget every worker launches from, in Redis."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._give = redis.register_script(_GIVE)

    def allowed(self, wanted: int) -> int:
        """How many of `wanted` creates may go now, taken from the budget; all of them
        when the provider has told nothing (or Redis is away: its 429s still pace us)."""
        try:
            now = int(time.time() * 1000)
            return int(self._take(keys=[KEY, PAUSE], args=[now, wanted, RESERVE]))
        except RedisError as exc:
            log.warning("pace cannot reach Redis", extra={"error": str(exc)})
            return wanted

    def give_back(self, unused: int) -> None:
        """Launches `allowed` and not made: back into the budget for the next round."""
        if unused <= 0:
            return
        try:
            self._give(keys=[KEY], args=[unused])
        except RedisError as exc:
            log.warning("pace cannot reach Redis", extra={"error": str(exc)})

    def observe(self, answer: httpx2.Response) -> None:
        """Every answer the provider client gets (an httpx response hook, run as its
        headers arrive): only creates spend the launch budget, so only theirs are noted."""
        request = answer.request
        if request.method == "POST" and request.url.path.endswith(CREATES):
            self.note(answer.status_code, answer.headers)

    def note(self, status: int, headers: Mapping[str, str]) -> None:
        """A create's answer: the budget it reports, and a pause if it was refused (429)."""
        try:
            if status == 429:
                self._pause(headers)
            self._level(headers)
        except RedisError as exc:
            log.warning("pace cannot reach Redis", extra={"error": str(exc)})

    def _level(self, headers: Mapping[str, str]) -> None:
        limit = headers.get("x-ratelimit-limit-requests")
        remaining = headers.get("x-ratelimit-remaining-requests")
        if not (limit and remaining and limit.isdigit() and remaining.isdigit()):
            return
        now = int(time.time() * 1000)
        pipe = self._redis.pipeline()
        pipe.hset(KEY, mapping={"level": int(remaining), "limit": int(limit), "at": now})
        pipe.expire(KEY, FORGET)
        pipe.execute()

    def _pause(self, headers: Mapping[str, str]) -> None:
        wait = _number(headers.get("retry-after"))
        if wait is None:
            wait = seconds(headers.get("x-ratelimit-reset-requests") or "") or 1.0
        self._redis.set(PAUSE, "1", px=max(int(wait * 1000), 1))
        log.info("provider asks to slow down", extra={"seconds": wait})


def _number(raw: str | None) -> float | None:
    try:
        return max(float(raw), 0.0) if raw is not None else None
    except ValueError:
        return None
