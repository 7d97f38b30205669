"""Turns at SQLite's single writer lock, first come first served within a process.

SQLite lets one transaction write at a time and has no queue: a writer that finds the
lock taken retries until it is free. When every one of the bot's eight request
threads retried on its own, they spent the GIL polling, and whichever happened to
poll at the right moment won: a slash command could lose to later ones again and
again (p99 acks near half a second beside a busy worker). Here a process's writers
wait in line for their turn, asleep, and only the one at the head asks SQLite.
"""

from __future__ import annotations

import threading
from collections import deque


class WriteTurns:
    """A first-in, first-out lock: `release` hands the turn to the longest waiter."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting: deque[threading.Event] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the turn; False if it never came."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait ran out: the turn is ours
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        """Hand the turn to the next in line (it stays taken), or free it."""
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._held = False
