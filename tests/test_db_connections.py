"""ERRAND_DB_CONNECTIONS bounds what one process holds of PostgreSQL's `max_connections`,
so an operator can run as many workers as the server allows connections for."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from models.store.submission import submit
from tests.support.stack import Stack

JOBS = 30
CONNECTIONS = 3
WORKER = "errand-worker-under-test"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_worker_keeps_to_its_connections_and_still_finishes_every_job(stack: Stack) -> None:
    stack.env["ERRAND_DB_CONNECTIONS"] = str(CONNECTIONS)
    stack.env["PGAPPNAME"] = WORKER  # libpq names the worker's connections
    ids = [
        submit(stack.db, stack.kinds, "research", f"Q{n} [sandbox: duration=1]", user=f"U{n}").id
        for n in range(JOBS)
    ]
    peak, done = [0], threading.Event()
    watcher = threading.Thread(target=_watch, args=(stack, peak, done))
    watcher.start()
    try:
        stack.start_worker()
        stack.wait_settled(ids, timeout=90)
    finally:
        done.set()
        watcher.join()
    assert {stack.status(j) for j in ids} == {"completed"}
    assert 0 < peak[0] <= CONNECTIONS


def _watch(stack: Stack, peak: list[int], done: threading.Event) -> None:
    """The most connections the worker held at once."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = :name"
    ).bindparams(name=WORKER)
    with stack.db.engine.connect() as conn:
        while not done.wait(0.01):
            held = int(conn.execute(query).scalar_one())
            conn.rollback()  # the view is read once per transaction
            peak[0] = max(peak[0], held)
