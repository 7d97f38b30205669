"""New rows from many threads stored in one SQLite transaction: a group commit.

SQLite has one writer, and a write transaction's turn, BEGIN IMMEDIATE and COMMIT cost
more than the INSERTs of a new job. With 20 slash commands at once the bot's threads
took the writer's lock one after another, and the acks queued behind them. Here a
thread that finds a commit under way leaves its rows and waits; the next to commit
takes every row left waiting and stores them in one transaction, one INSERT per table.

Each thread still hears by its own deadline (the engine's wait, from its arrival): rows
no commit took in time are withdrawn and fail as a held lock does. A group that breaks
a constraint (a repeated idempotency key) is stored again one thread's rows at a time,
so only the rows at fault fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Table, insert
from sqlalchemy.exc import IntegrityError

from models.db import DEADLINE, no_write_lock, write_wait

Rows = Sequence[tuple[Table, dict[str, Any]]]


@dataclass(eq=False)
class _Entry:
    """One thread's rows, and how their commit went."""

    rows: Rows
    deadline: float  # monotonic
    settled: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class SharedCommit:
    """The rows waiting to be stored on one engine, and the one commit under way."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wait = write_wait(engine)
        self._guard = threading.Lock()
        self._committing = threading.Lock()
        self._waiting: list[_Entry] = []

    def insert(self, rows: Rows) -> None:
        """Store `rows` (in order, each with its table), with whatever else waits."""
        mine = _Entry(rows, time.monotonic() + self._wait)
        with self._guard:
            self._waiting.append(mine)
        if self._committing.acquire(timeout=self._wait):
            try:
                if not mine.settled.is_set():
                    self._commit(self._take())
            finally:
                self._committing.release()
        elif not self._withdraw(mine):
            mine.settled.wait()  # taken by the commit under way, which ends by its deadline
        if mine.error is not None:
            raise mine.error

    def _take(self) -> list[_Entry]:
        with self._guard:
            group, self._waiting = self._waiting, []
        return group

    def _withdraw(self, mine: _Entry) -> bool:
        """Take back rows no commit took in time: they fail as a held lock does."""
        with self._guard:
            if mine not in self._waiting:
                return False
            self._waiting.remove(mine)
        mine.error = no_write_lock()
        return True

    def _commit(self, group: list[_Entry]) -> None:
        try:
            self._store(group)
        except IntegrityError as exc:
            if len(group) == 1:
                group[0].error = exc
            else:  # whose rows? each alone, so only those at fault fail
                for entry in group:
                    self._commit([entry])
        except Exception as exc:  # no lock in time, the database away: all alike
            for entry in group:
                entry.error = exc
        finally:
            for entry in group:
                entry.settled.set()

    def _store(self, group: list[_Entry]) -> None:
        with self._engine.connect() as connection:
            connection.execution_options(**{DEADLINE: min(e.deadline for e in group)})
            with connection.begin():
                for table, rows in _by_table(group):
                    connection.execute(insert(table), rows)


def _by_table(group: list[_Entry]) -> list[tuple[Table, list[dict[str, Any]]]]:
    """The group's rows as one list per table and set of columns, in the order each
    thread gave them (a job before the rows that refer to it)."""
    rows: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    first: dict[tuple[Table, tuple[str, ...]], int] = {}
    for entry in group:
        for place, (table, row) in enumerate(entry.rows):
            shape = (table, tuple(row))
            rows.setdefault(shape, []).append(row)
            first[shape] = min(first.get(shape, place), place)
    return [(shape[0], rows[shape]) for shape in sorted(rows, key=first.__getitem__)]


_COMMITS: WeakKeyDictionary[Engine, SharedCommit] = WeakKeyDictionary()
_COMMITS_GUARD = threading.Lock()


def shared_commit(engine: Engine) -> SharedCommit:
    """The engine's group commit, made on first use."""
    with _COMMITS_GUARD:
        commit = _COMMITS.get(engine)
        if commit is None:
            commit = _COMMITS[engine] = SharedCommit(engine)
        return commit
