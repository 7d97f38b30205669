"""Who goes first at SQLite's writer lock between processes: a person waiting goes
before background work.

The bot stores a job while Slack waits for its answer; a worker's writes can wait a
few milliseconds. SQLite has no queue, and a worker with writes lined up took the
lock again the moment it freed it, while the bot polled. So a writer with a deadline
says it is waiting (a shared lock on a file beside the database) and the others look
before they ask SQLite, and let it go first (for at most `GIVE_WAY` seconds each).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

GIVE_WAY = 0.05
LOOK_AGAIN = 0.0005


class WriterQueue:
    """The file beside one database where urgent writers say they are waiting."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Held while an urgent writer waits for SQLite's lock."""
        fd = self._file()
        if fd is None:
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def give_way(self) -> None:
        """Wait while an urgent writer waits, up to `GIVE_WAY` seconds."""
        fd = self._file()
        deadline = time.monotonic() + GIVE_WAY
        while fd is not None and time.monotonic() < deadline:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(LOOK_AGAIN)
                continue
            fcntl.flock(fd, fcntl.LOCK_UN)
            return

    def _file(self) -> int | None:
        """The file, opened once per process: a lock is held per open file, and gunicorn's
        processes, forked after the engine was made, must not share one."""
        if self._path and self._pid != os.getpid():
            self._fd, self._pid = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
        return self._fd
