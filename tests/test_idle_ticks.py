"""An idle worker leaves SQLite's one writer's lock alone: its notify, launch and follow
ticks run on every worker a few times a second, and each claim is a write transaction,
which the bot's acks then wait behind. With nothing due, a tick only reads."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Connection, event

from models.db import READ_ONLY, Database
from models.kinds import load_kinds
from models.notifier import LogNotifier
from models.store.claim import LaunchRules, claim_due_checks, claim_launches
from models.store.submission import submit
from worker.notify import deliver_due

RULES = LaunchRules(lease=timedelta(seconds=60), unknown_wait=timedelta(seconds=60))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.connect(database_url)
    yield database
    database.engine.dispose()


def _writes(db: Database) -> list[int]:
    """Every transaction begun on `db` that may write (on SQLite: takes the lock)."""
    writes: list[int] = []

    @event.listens_for(db.engine, "begin")
    def _count(connection: Connection) -> None:
        if not connection.get_execution_options().get(READ_ONLY):
            writes.append(1)

    return writes


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_idle_ticks_take_no_write_transaction(db: Database) -> None:
    writes = _writes(db)
    with ThreadPoolExecutor(2) as executor:
        assert deliver_due(db, LogNotifier(), executor).delivered == 0
    assert claim_launches(db, load_kinds(), RULES, limit=10) == []
    assert claim_due_checks(db, limit=10) == []
    assert writes == []


def test_a_tick_with_work_still_claims_it(db: Database) -> None:
    job = submit(db, load_kinds(), "research", "Anything new?", user="U1", channel="C1")
    with ThreadPoolExecutor(2) as executor:
        assert deliver_due(db, LogNotifier(), executor).delivered >= 1  # the card's first post
    launches = claim_launches(db, load_kinds(), RULES, limit=10)
    assert [launch.job_id for launch in launches] == [job.id]
