"""Finishing before starting: launches slow to a trickle only while results fall behind.

Every launch costs CPU that the follow and notify pulses need to get results to people.
The signal is the backlog (`models.store.backlog`): checks and results due for longer
than `BEHIND`, counted in the database, so it is the deployment's, whichever worker
runs which pulse. A launch tick samples it; while every sample of the last `WINDOW`
seconds found a backlog and it has not shrunk over them, the workers are overloaded and
a launch tick starts at most `TRICKLE` jobs (never none, so queued jobs still move).
Otherwise it starts its full batch.

One late tick is not overload: a tick that runs late (a garbage collection, a slow
statement, a burst of webhooks) leaves a backlog for a sample or two, and the next tick
clears it. The signal this replaced throttled on any one tick half a second late, and
with 5,000 jobs queued it held launches to a trickle for minutes while the machine had
CPU to spare (all started after 197 s with webhooks, 510 s without).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta

BEHIND = timedelta(seconds=0.5)  # due for longer than this: overdue
WINDOW = 2.0  # seconds of samples that must all find a backlog
TRICKLE = 5


class Pressure:
    """Samples of the backlog over the last `window` seconds, taken at each launch tick."""

    def __init__(
        self,
        backlog: Callable[[], int],
        *,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backlog = backlog
        self._window = window
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()

    def launch_limit(self, full: int) -> int:
        """How many jobs the next launch tick may start: `full`, or a trickle under overload."""
        now = self._clock()
        self._samples.append((now, self._backlog()))
        while self._samples[0][0] < now - self._window:
            self._samples.popleft()
        return min(full, TRICKLE) if self.overloaded(now) else full

    def overloaded(self, now: float) -> bool:
        """A backlog in every sample for most of the window, and no smaller at its end."""
        since, first = self._samples[0]
        last = self._samples[-1][1]
        long_enough = now - since >= self._window * 0.75 and len(self._samples) >= 3
        return long_enough and last >= first and all(n > 0 for _, n in self._samples)
