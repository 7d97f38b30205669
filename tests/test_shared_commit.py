"""On SQLite, jobs asked at the same moment are stored together (one transaction for the
jobs that arrive while another commits), and each still gets exactly its own outcome: a
repeated key returns the first job, a held lock fails by the asker's deadline."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, func, select
from sqlalchemy.exc import OperationalError

from models.db import READ_ONLY, Database
from models.job import Attempt, Job, Notice
from models.kinds import KindsConfig, load_kinds
from models.migrate import upgrade
from models.store.submission import submit

ASKERS = 40
REPEATS = 8  # of them send one key between them, as Slack's retries of one command do


@pytest.fixture
def sqlite(tmp_path: Path) -> tuple[Database, KindsConfig]:
    url = f"sqlite:///{tmp_path / 'errand.db'}"
    upgrade(url)
    return Database.connect(url, wait=2.0), load_kinds()


def test_forty_at_once_share_transactions_and_each_gets_its_job(
    sqlite: tuple[Database, KindsConfig],
) -> None:
    db, kinds = sqlite
    writes: list[int] = []

    @event.listens_for(db.engine, "commit")
    def _count(connection: Connection) -> None:
        if not connection.get_execution_options().get(READ_ONLY):
            writes.append(1)

    ids = _at_once(db, kinds, [f"key-{n}" for n in range(ASKERS)])
    assert len(set(ids)) == ASKERS
    _assert_stored(db, set(ids))
    assert len(writes) < ASKERS, "one transaction per asker"


def test_retries_among_others_get_the_first_job_and_the_others_their_own(
    sqlite: tuple[Database, KindsConfig],
) -> None:
    db, kinds = sqlite
    keys = ["retried"] * REPEATS + [f"key-{n}" for n in range(ASKERS - REPEATS)]
    ids = _at_once(db, kinds, keys)
    assert len(set(ids[:REPEATS])) == 1  # every retry answered with the first job
    assert len(set(ids)) == ASKERS - REPEATS + 1
    _assert_stored(db, set(ids))


def _at_once(db: Database, kinds: KindsConfig, keys: list[str]) -> list[str]:
    """Each key's slash command, all let go at the same moment; the job each answers."""
    start = threading.Barrier(len(keys))

    def ask(n: int) -> str:
        start.wait()
        return submit(
            db, kinds, "research", f"Q{n}", user=f"U{n}", channel="C1", idempotency_key=keys[n]
        ).id

    with ThreadPoolExecutor(len(keys)) as pool:
        return list(pool.map(ask, range(len(keys))))


def _assert_stored(db: Database, ids: set[str]) -> None:
    """Exactly these jobs, each with its attempt, its card's notice first."""
    with db.reading() as session:
        assert set(session.scalars(select(Job.id))) == ids
        assert session.scalar(select(func.count()).select_from(Attempt)) == len(ids)
        for job_id in ids:
            milestones = session.scalars(
                select(Notice.milestone).where(Notice.job_id == job_id).order_by(Notice.id)
            ).all()
            assert milestones[0] == "queued", milestones


@pytest.mark.exclusive  # it times waits against a deadline: a busy machine's scheduling would show
def test_a_held_lock_fails_each_asker_by_its_deadline_and_stores_nothing(
    sqlite: tuple[Database, KindsConfig], tmp_path: Path
) -> None:
    db, kinds = sqlite
    wait = 1.0
    asking = Database.connect(f"sqlite:///{tmp_path / 'errand.db'}", wait=wait)
    holder = db.engine.connect()
    held = holder.begin()  # BEGIN IMMEDIATE: the one writer's lock

    def ask(n: int) -> float:
        began = time.monotonic()
        with pytest.raises(OperationalError):
            submit(asking, kinds, "research", f"Q{n}", user="U1", channel="C1")
        return time.monotonic() - began

    try:
        with ThreadPoolExecutor(8) as pool:
            waited = list(pool.map(ask, range(8)))
    finally:
        held.rollback()
        holder.close()
    assert max(waited) < wait * 1.9, waited  # not one wait after another
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
