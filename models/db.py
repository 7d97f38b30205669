"""Engines and sessions for SQLite and PostgreSQL, tuned for many writers."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from sqlalchemy import Engine, Executable, Row, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from models.write_turn import WriteTurns
from models.writer_queue import WriterQueue

LOCK_RETRY = 0.001
LOCKED = "database is locked"
# A worker's pulses use up to ~40 connections at once (their pools' threads).
CONNECTIONS = 40
TURN = "errand_write_turn"  # set on a connection while its transaction holds the turn
READ_ONLY = "errand_read_only"  # an engine option: its transactions only read
ALONE = "alone"  # READ_ONLY's value for transactions of one statement (no BEGIN needed)
SQLITE_WAIT = 30.0  # seconds a write without a deadline waits for SQLite's writer's lock
DEADLINE = "errand_deadline"  # a connection option: when (monotonic) a write must have begun
_WAITS: WeakKeyDictionary[Engine, float] = WeakKeyDictionary()  # SQLite engines' waits


def make_engine(
    url: str, *, wait: float | None = None, connections: int = CONNECTIONS, **kwargs: Any
) -> Engine:
    """An engine for `url`; SQLite gets WAL and write-first transactions, taken in turn.

    With `wait`, a connection, a lock or a statement that takes longer than `wait`
    seconds fails instead: for a process that must answer within a deadline (the bot
    answers Slack within 3 s); on SQLite its writes go before those of processes
    without one (`WriterQueue`). Without it, SQLite waits 30 s for the writer's lock and
    PostgreSQL as long as the statement takes (migrations, workers).

    On PostgreSQL the process keeps at most `connections` open (ERRAND_DB_CONNECTIONS),
    so workers times that fits the server's `max_connections`; a thread finding them
    all in use waits for one.
    """
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(
            url, SQLITE_WAIT if wait is None else wait, wait is not None, **kwargs
        )
    kwargs.setdefault("pool_pre_ping", True)
    # Kept open, not made and closed per use as overflow connections are.
    kwargs.setdefault("pool_size", connections)
    kwargs.setdefault("max_overflow", 0)
    if wait is not None:
        kwargs.update(connect_args=_postgresql_limits(wait), pool_timeout=wait)
    return create_engine(url, **kwargs)


def _postgresql_limits(wait: float) -> dict[str, Any]:
    """A server that hangs (locks, overload) fails the statement; one that is away fails
    the connect. libpq counts its connect timeout in whole seconds, at least two."""
    return {
        "connect_timeout": max(2, math.ceil(wait)),
        "options": f"-c statement_timeout={int(wait * 1000)}",
    }


def _sqlite_engine(url: str, wait: float, urgent: bool, **kwargs: Any) -> Engine:
    # The bot and workers are separate processes writing one file: WAL lets
    # readers run beside the writer, and BEGIN IMMEDIATE takes the write lock
    # up front so a read-then-write transaction never deadlocks on upgrade.
    engine = create_engine(
        url, connect_args={"timeout": wait, "check_same_thread": False}, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    turns, queue = WriteTurns(), WriterQueue(_queue_file(url))
    _WAITS[engine] = wait

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if read_only := connection.get_execution_options().get(READ_ONLY):
            if read_only != ALONE:
                connection.exec_driver_sql("BEGIN")  # a snapshot: WAL readers never wait
            return
        deadline = connection.get_execution_options().get(DEADLINE) or time.monotonic() + wait
        if not turns.acquire(max(deadline - time.monotonic(), 0.0)):
            raise no_write_lock()
        try:
            if urgent:  # a person waits: say so, and the workers let this go first
                with queue.waiting():
                    _take_write_lock(connection, deadline, wait)
            else:
                queue.give_way()
                _take_write_lock(connection, deadline, wait)
        except BaseException:
            turns.release()
            raise
        connection.info[TURN] = True

    @event.listens_for(engine, "commit")
    def _on_commit(connection: Any) -> None:
        _end(connection, turns, "COMMIT")

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Any) -> None:
        _end(connection, turns, "ROLLBACK")

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection dropped without its transaction ended (the pool rolls it back
        # itself, with no rollback event) must not keep the turn from everyone else.
        if record is not None and record.info.pop(TURN, False):
            turns.release()

    return engine


def no_write_lock() -> OperationalError:
    """The error of a write that did not get SQLite's writer's lock in time, as SQLite's own."""
    return OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError(LOCKED))


def write_wait(engine: Engine) -> float:
    """How long a write on this SQLite engine waits for the writer's lock before it fails."""
    return _WAITS.get(engine, SQLITE_WAIT)


def _queue_file(url: str) -> str | None:
    """The file beside the database where urgent writers say they wait (none in memory)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database + "-writers"


def _end(connection: Any, turns: WriteTurns, verb: str) -> None:
    """COMMIT or ROLLBACK now, then give the turn to the next writer in line. The
    driver's own commit, which follows this event, then finds nothing to do; giving
    the turn before it would send the next writer to find SQLite's lock still held."""
    if not connection.info.pop(TURN, False):
        return
    try:
        raw = connection.connection.dbapi_connection
        if raw is not None and raw.in_transaction:
            raw.execute(verb)
    finally:
        turns.release()


def _take_write_lock(connection: Any, deadline: float, wait: float) -> None:
    """BEGIN IMMEDIATE, retried every millisecond until `deadline` (monotonic) passes;
    then SQLite's own busy timeout is `wait` seconds again.

    SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries, so a writer
    that arrives just after another's commit could wait a tenth of a second for a lock
    free for most of it: slash commands queued behind the worker's writes saw p99 acks
    of half a second. Retrying every millisecond takes the lock as soon as it is free;
    only the process's writer whose turn it is (`WriteTurns`) retries.
    """
    connection.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(LOCK_RETRY)
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(wait * 1000)}")


def unavailable(error: BaseException) -> bool:
    """The database was busy or away (a lock, a timeout, a lost connection), as opposed
    to refusing the statement itself: worth telling a person to try again later."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, OperationalError):
        return False
    if isinstance(error.orig, sqlite3.OperationalError):
        return "locked" in str(error.orig)
    return isinstance(error.orig, psycopg.OperationalError)


class Unit:
    """A session plus the actions that must wait for its commit (work handed to others)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.after_commit: list[Callable[[], None]] = []

    def later(self, action: Callable[[], None]) -> None:
        self.after_commit.append(action)


@dataclass(frozen=True)
class Database:
    """The engine and its sessions: what every reader and writer of jobs is given."""

    engine: Engine
    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]  # sessions that only read (see `reading`)
    lone_reads: Engine  # for statements read alone (see `read_one`)

    @classmethod
    def connect(
        cls, url: str, *, wait: float | None = None, connections: int = CONNECTIONS
    ) -> Database:
        """An engine for `url` (see `make_engine`) with sessions that keep loaded objects
        readable after commit, since we render from them."""
        engine = make_engine(url, wait=wait, connections=connections)
        readers = engine.execution_options(**{READ_ONLY: True})
        return cls(
            engine,
            sessionmaker(engine, expire_on_commit=False),
            sessionmaker(readers, expire_on_commit=False),
            engine.execution_options(**_alone(engine)),
        )

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that only reads. On SQLite it takes no writer's lock (every
        other transaction takes it first, see `make_engine`), so a read on the slash
        command's path never queues behind the workers' writes; it must not write."""
        session = self.readers()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def read_one(
        self, statement: Executable, params: dict[str, Any] | None = None
    ) -> Row[Any] | None:
        """The first row `statement` reads: for a read on every slash command's path,
        without a session (a third of the cost) and, on SQLite, without BEGIN and COMMIT
        (one statement is its own snapshot)."""
        with self.lone_reads.connect() as connection:
            return connection.execute(statement, params).first()

    @contextmanager
    def unit(self) -> Iterator[Unit]:
        """One transaction; actions handed to `later` run only after it commits."""
        unit = Unit(self.sessions())
        try:
            with unit.session.begin():
                yield unit
        finally:
            unit.session.close()
        for action in unit.after_commit:
            action()

    @property
    def sqlite(self) -> bool:
        """SQLite has one writer: a few paths batch their writes there (see their callers)."""
        return self.engine.dialect.name == "sqlite"


def _alone(engine: Engine) -> dict[str, Any]:
    """The options of a statement read alone: its own snapshot, with no BEGIN before
    it nor ROLLBACK after (two round trips on PostgreSQL)."""
    if engine.dialect.name == "sqlite":  # its isolation levels would undo `_on_connect`'s
        return {READ_ONLY: ALONE}
    return {"isolation_level": "AUTOCOMMIT"}


def missing_table(error: DBAPIError) -> bool:
    """Whether `error` says a table is not there: the database was never migrated."""
    if isinstance(error.orig, sqlite3.OperationalError):
        return "no such table" in str(error.orig)
    return isinstance(error.orig, psycopg.errors.UndefinedTable)
