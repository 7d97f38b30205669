"""Finishing before starting: a worker that falls behind on results launches only a trickle.

A worker's pulses share one interpreter. Every launch costs CPU that the follow
and notify ticks need to get results to people, so a burst of thousands of
queued jobs, launched flat out, pushed the lag from provider completion to the
Slack result past half a minute. The follow and notify ticks report how long
their oldest item had waited; while that is over the threshold, a launch tick
starts at most `TRICKLE` jobs, fewer the further behind they are (never none,
so queued jobs still move), and results catch up.

The threshold is half a second, with webhooks or without. With webhooks a result
should reach Slack within half a second. When polling, a check may wait up to its
interval by design, but the promise is the interval plus a second, and a follow
tick and a notify tick late by half a second each already spend it. (At one
second, polling at 2,000 jobs ran 2.1-2.3 s over the interval; at half a second,
0.6 s, with all jobs started as soon as before, since follow ticks stopped waiting
for their slowest checks.)
"""

from __future__ import annotations

BEHIND = 0.5
TRICKLE = 5


class Pressure:
    """The latest lateness each finishing pulse reported, in seconds (one per worker process)."""

    def __init__(self) -> None:
        self._late: dict[str, float] = {}

    def report(self, pulse: str, late: float) -> None:
        self._late[pulse] = late

    def launch_limit(self, full: int) -> int:
        """How many jobs the next launch tick may start."""
        behind = max(self._late.values(), default=0.0)
        if behind < BEHIND:
            return full
        return max(1, min(full, int(TRICKLE * BEHIND / behind)))
