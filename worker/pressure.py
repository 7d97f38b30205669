"""Finishing before starting: a worker that falls behind on results launches only a trickle.

A worker's beats share one interpreter. Every launch costs CPU that the follow
and notify ticks need to get results to people, so a burst of thousands of
queued jobs, launched flat out, pushed the lag from provider completion to the
Slack result past half a minute. The follow and notify ticks report how long
their oldest item had waited; while that is over the threshold, a launch tick
starts at most `TRICKLE` jobs, fewer the further behind they are (never none,
so queued jobs still move), and results catch up.

The threshold follows the lag people are promised. With webhooks a result
should reach Slack within half a second, so launches yield at `BEHIND_WEBHOOKS`.
When polling, a check waits up to a follow period by design and the promise is
the poll interval plus a second, so launches yield only at `BEHIND_POLLING`.
"""

from __future__ import annotations

BEHIND_WEBHOOKS = 0.5
BEHIND_POLLING = 1.0
TRICKLE = 5


class Pressure:
    """The latest lateness each finishing beat reported, in seconds (one per worker process)."""

    def __init__(self, *, webhooks: bool = False) -> None:
        self._late: dict[str, float] = {}
        self.behind = BEHIND_WEBHOOKS if webhooks else BEHIND_POLLING

    def report(self, beat: str, late: float) -> None:
        self._late[beat] = late

    def launch_limit(self, full: int) -> int:
        """How many jobs the next launch tick may start."""
        behind = max(self._late.values(), default=0.0)
        if behind < self.behind:
            return full
        return max(1, min(full, int(TRICKLE * self.behind / behind)))
