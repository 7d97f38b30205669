"""Engines and sessions for SQLite and PostgreSQL, tuned for many writers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL and write-first transactions."""
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    # A worker's pulses use up to ~30 connections at once; kept open, not made and
    # closed per use as overflow connections are.
    kwargs.setdefault("pool_size", 30)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    # The bot and workers are separate processes writing one file: WAL lets
    # readers run beside the writer, and BEGIN IMMEDIATE takes the write lock
    # up front so a read-then-write transaction never deadlocks on upgrade.
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects readable after commit (we render from them)."""
    return sessionmaker(engine, expire_on_commit=False)


def is_sqlite(engine: Engine) -> bool:
    """Claiming rows differs: PostgreSQL skips locked rows, SQLite has one writer."""
    return engine.dialect.name == "sqlite"
