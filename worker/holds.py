"""The streams this worker holds (zero data retention), kept claimed while they run.

One keeper thread per process renews the claim of every held attempt each second, and
closes a stream whose job wants it stopped (a cancel, an expiry) or whose claim another
worker has taken over; the reading thread then sees its stream end and the reason why.
Closing a stream ends its response at the provider: it was never stored there.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from models.base import utcnow
from models.db import Database
from models.store.hold import keep_holds
from models.store.stream import StreamTarget

log = logging.getLogger(__name__)

KEEP_EVERY = 1.0  # seconds between renewals, and so the longest a cancel waits
STOP, LOST, LEAVING = "stop", "lost", "leaving"


@dataclass(eq=False)
class Hold:
    """One held stream: its attempt, the claim that fences it, and why it was closed."""

    target: StreamTarget
    token: str
    events: Any
    why: str | None = None  # STOP, LOST or LEAVING once the keeper has closed it


class Keeper:
    """Renews this process's held claims and closes the streams that must end."""

    def __init__(self, db: Database, lease: timedelta) -> None:
        self._db = db
        self._lease = lease
        self._holds: set[Hold] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, target: StreamTarget, token: str, events: Any) -> Hold:
        hold = Hold(target, token, events)
        with self._lock:
            self._holds.add(hold)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="errand-holds", daemon=True)
                self._thread.start()
        return hold

    def remove(self, hold: Hold) -> None:
        with self._lock:
            self._holds.discard(hold)

    def leave(self) -> None:
        """The worker is stopping: close every stream, for its reader to start it again."""
        for hold in self._held():
            close(hold, LEAVING)

    def _held(self) -> list[Hold]:
        with self._lock:
            return list(self._holds)

    def _run(self) -> None:
        while True:
            time.sleep(KEEP_EVERY)
            try:
                self.keep()
            except Exception:  # the database is away: the claims may lapse, and fence us out
                log.exception("held streams not renewed")

    def keep(self) -> None:
        """One round: renew every claim; close what is no longer ours or no longer wanted."""
        holds = self._held()
        if not holds:
            return
        owned = [(h.target.attempt_id, h.token) for h in holds]
        kept = keep_holds(self._db, owned, utcnow() + self._lease)
        for hold in holds:
            if hold.target.attempt_id not in kept.renewed:
                close(hold, LOST)
            elif hold.target.attempt_id in kept.stopping:
                close(hold, STOP)


def close(hold: Hold, why: str) -> None:
    """Close the stream (once), saying why; its reader sees the stream end."""
    if hold.why is not None:
        return
    hold.why = why
    log.info("closing held stream", extra={"job_id": hold.target.job_id, "why": why})
    try:
        hold.events.close()
    except Exception:  # already closed by its reader, or a connection half gone
        log.debug("held stream was closed already", extra={"job_id": hold.target.job_id})
