"""On SQLite (`errand run`'s default) a slash command's job is stored within the bot's
deadline even while a worker writes without pause: the bot's writes go first."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from models.db import Database
from models.kinds import load_kinds
from models.store.queries import get_job
from models.store.submission import submit

BOT_WAIT = 1.0  # the bot's bound on a database wait (ERRAND_BOT_DB_TIMEOUT, shortened)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_command_is_stored_while_a_worker_writes_without_pause(database_url: str) -> None:
    worker, bot = Database.connect(database_url), Database.connect(database_url, wait=BOT_WAIT)
    done = threading.Event()

    def write_without_pause() -> None:
        """A busy worker: one transaction after another, each holding the lock 50 ms."""
        while not done.is_set():
            with worker.engine.begin() as connection:
                connection.execute(text("UPDATE jobs SET updated_at = updated_at"))
                time.sleep(0.05)

    busy = threading.Thread(target=write_without_pause)
    busy.start()
    try:
        time.sleep(0.1)
        began = time.monotonic()
        job = submit(bot, load_kinds(), "research", "Still there?", user="U1", channel="C1")
        waited = time.monotonic() - began
    finally:
        done.set()
        busy.join()
    assert get_job(bot, job.id).status == "queued"
    assert waited < BOT_WAIT / 2
