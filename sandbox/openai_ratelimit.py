"""Requests-per-minute and tokens-per-minute budgets, with OpenAI's ``x-ratelimit-*`` headers.

Each budget is a bucket that refills continuously (a full minute's allowance over 60 s), as
the real limiter does: ``remaining`` is what the bucket holds now and ``reset`` is how long
until it is full again, written as the API writes durations (``6ms``, ``1.5s``, ``1m30s``).
A request the bucket cannot cover is refused with 429 and a ``retry-after`` in whole seconds.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from sandbox.openai_errors import ApiError, ErrorContext, requests_limited, tokens_limited


@dataclass
class _Bucket:
    capacity: float
    level: float
    stamp: float

    def refill(self, now: float, capacity: float) -> None:
        if capacity != self.capacity:  # the limit was reconfigured: start full
            self.capacity, self.level = capacity, capacity
        elapsed = max(0.0, now - self.stamp)
        self.level = min(self.capacity, self.level + elapsed * self.capacity / 60)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until the bucket holds ``amount``."""
        return max(0.0, (amount - self.level) * 60 / self.capacity)

    def headers(self, kind: str) -> dict[str, str]:
        return {
            f"x-ratelimit-limit-{kind}": str(int(self.capacity)),
            f"x-ratelimit-remaining-{kind}": str(max(0, math.floor(self.level))),
            f"x-ratelimit-reset-{kind}": duration(self.wait_for(self.capacity)),
        }


def duration(seconds: float) -> str:
    """A Go-style duration, the way the API writes ``x-ratelimit-reset-*``."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


@dataclass(frozen=True)
class Verdict:
    """The outcome of asking the budgets: headers for the answer, and a 429 if refused."""

    headers: dict[str, str]
    refusal: ApiError | None = None


class RateLimiter:
    """Both budgets behind one short-held lock."""

    def __init__(self) -> None:
        """Buckets start full; their size follows the settings passed to each call."""
        self._lock = threading.Lock()
        self._requests: _Bucket | None = None
        self._tokens: _Bucket | None = None
        self.refused = 0

    def reset(self) -> None:
        """Full buckets again (sandbox reset)."""
        with self._lock:
            self._requests = self._tokens = None
            self.refused = 0

    def admit(self, now: float, limits: tuple[int, int], tokens: int, ctx: ErrorContext) -> Verdict:
        """Take one request and ``tokens`` tokens, or refuse with the budget that ran out."""
        with self._lock:
            requests, budget = self._buckets(now, limits)
            refusal = _refusal(requests, budget, tokens, ctx)
            if refusal is None:
                requests.level -= 1
                budget.level -= tokens
            else:
                self.refused += 1
            return Verdict({**requests.headers("requests"), **budget.headers("tokens")}, refusal)

    def peek(self, now: float, limits: tuple[int, int]) -> dict[str, str]:
        """The headers for a call that does not count against the budgets."""
        with self._lock:
            requests, budget = self._buckets(now, limits)
            return {**requests.headers("requests"), **budget.headers("tokens")}

    def _buckets(self, now: float, limits: tuple[int, int]) -> tuple[_Bucket, _Bucket]:
        rpm, tpm = float(limits[0]), float(limits[1])
        if self._requests is None or self._tokens is None:
            self._requests, self._tokens = _Bucket(rpm, rpm, now), _Bucket(tpm, tpm, now)
        self._requests.refill(now, rpm)
        self._tokens.refill(now, tpm)
        return self._requests, self._tokens


def _refusal(requests: _Bucket, budget: _Bucket, tokens: int, ctx: ErrorContext) -> ApiError | None:
    if requests.level < 1:
        wait = requests.wait_for(1)
        error = requests_limited(ctx, int(requests.capacity), duration(wait))
    elif budget.level < tokens:
        wait = budget.wait_for(tokens)
        used = int(budget.capacity - budget.level)
        error = tokens_limited(ctx, int(budget.capacity), used, tokens, duration(wait))
    else:
        return None
    retry = {"retry-after": str(max(1, math.ceil(wait)))}
    return ApiError(error.status, error.message, error.type, error.param, error.code, retry)
