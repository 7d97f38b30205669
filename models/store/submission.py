"""Storing a new job: the job, its first attempt, the "submitted" event and the "queued"
notice, all or none; a repeated idempotency key returns the first job.

The bot stores a job inside the slash command's ack, on the path a person waits on. On
PostgreSQL it is one statement (data-modifying CTEs) in autocommit: one round trip, not
seven (ping, BEGIN, four INSERTs, COMMIT): 0.4 ms of the bot's CPU instead of 1.7 ms.
SQLite has no data-modifying CTEs: there it is INSERTs in one transaction, shared by the
jobs that arrive while another commits (`models.shared_commit`).
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, Insert, Table, bindparam, insert
from sqlalchemy.exc import IntegrityError

from models.base import utcnow
from models.db import Database
from models.errors import InputRejected
from models.ids import new_job_id
from models.job import Job, attempts, events, jobs, notices
from models.job_file import job_files
from models.kinds import Kind, KindsConfig
from models.notifier import AGENT_STATUS, REACTION
from models.options import Options, resolve
from models.rows import Rows, pack_rows, row_prompt
from models.shared_commit import shared_commit
from models.status import JobStatus
from models.store.attempt import attempt_key
from models.store.lifecycle import SEEN, WORKING, event_row, notice_row
from models.store.preferences import channel_defaults
from models.store.queries import by_key
from models.turn import turns

Row = dict[str, Any]
Rows_ = list[tuple[Table, Row]]


def submit(
    db: Database,
    kinds: KindsConfig,
    kind_name: str,
    text: str,
    *,
    user: str,
    channel: str | None = None,
    team: str | None = None,
    response_url: str | None = None,
    idempotency_key: str | None = None,
    thread_ts: str | None = None,
    asked_ts: str | None = None,
    context: str = "",
    requested: dict[str, str] | None = None,
) -> Job:
    """Create a job for the workers to launch; a repeated key returns the first job.

    A job asked in a thread (a mention) names the thread (`thread_ts`: its card goes
    there) and the message that asked (`asked_ts`: Errand reacts on it); `context` (the
    thread's earlier messages, quoted) follows the question and is not counted against
    the kind's input limit, which is the asker's own words. `requested` options (model,
    effort, tier) win over the channel's defaults, which win over the kind's; a value the
    kind does not allow is refused (`InputRejected`) and no job is made."""
    kind = _kind(kinds, kind_name)
    if kind.lane == "batch":
        raise InputRejected(f"{kind.command} runs a file of rows: give the file too.")
    text = validate_input(kind, text) + context
    defaults = channel_defaults(db, channel, kind.name) if channel else {}
    options = resolve(kind, requested or {}, defaults)
    where = {
        "team_id": team,
        "channel_id": channel,
        "response_url": response_url,
        "thread_ts": thread_ts,
        "asked_ts": asked_ts,
    }
    job = _job_row(kind, text, user, where, idempotency_key, options)
    rows = _rows(job, kind, text, user)
    if asked_ts:  # the eyes on the asking message, once its card is up
        seen = {"ts": asked_ts, "add": SEEN}
        at = job["created_at"]
        rows.insert(-1, (notices, notice_row(job["id"], REACTION, key=SEEN, detail=seen, at=at)))
    return _store(db, idempotency_key, job, rows)


def submit_batch(
    db: Database,
    kinds: KindsConfig,
    kind_name: str,
    instructions: str,
    rows: Rows,
    *,
    user: str,
    channel: str | None = None,
    team: str | None = None,
    response_url: str | None = None,
    idempotency_key: str | None = None,
    filename: str | None = None,
) -> Job:
    """Create a batch job: `instructions` applied to each of `rows` (from models.rows
    .parse_rows), stored with the job in the same transaction; a repeated key returns
    the first job."""
    kind = _kind(kinds, kind_name)
    if kind.lane != "batch":
        raise InputRejected(f"{kind.command} takes no file of rows.")
    text, chars = validate_batch(kind, instructions, rows)
    where = {"team_id": team, "channel_id": channel, "response_url": response_url}
    job = _job_row(kind, text, user, where, idempotency_key)
    # What the card and the budget need, without reading the rows: their number and size.
    job["output"] = {"rows": len(rows), "input_chars": chars, "filename": filename}
    new = _rows(job, kind, text, user)
    new[2][1]["detail"] = (
        f"{kind.name}: {len(rows):,} rows from {filename or 'a file'}: {text[:200]}"
    )
    new.append((job_files, _rows_file(job, rows, chars, filename)))
    return _store(db, idempotency_key, job, new)


def validate_batch(kind: Kind, instructions: str, rows: Rows) -> tuple[str, int]:
    """The instructions, and each row as the model will read it, within the kind's limit;
    returns the instructions and the characters of all rows together."""
    text = (instructions or "").strip()
    if not text:
        raise InputRejected("Say what to do with each row: the instructions are empty.")
    limit = kind.max_input_chars
    if len(text) > limit:
        raise InputRejected(
            f"The instructions are {len(text):,} characters; at most {limit:,}. Shorten them."
        )
    sizes = [len(row_prompt(rows.columns, row)) for row in rows.rows]
    for number, size in enumerate(sizes, start=1):
        if size > limit:
            raise InputRejected(
                f"Row {number:,} is {size:,} characters; each row can be at most {limit:,}."
            )
    return text, sum(sizes)


def _store(db: Database, key: str | None, job: Row, rows: Rows_) -> Job:
    try:  # the unique key is the check: one round trip on the slash command's path
        store_new_job(db.engine, rows)
    except IntegrityError:
        existing = by_key(db, key) if key else None
        if existing is None:
            raise
        return existing
    return Job(**job)


def _rows_file(job: Row, rows: Rows, chars: int, filename: str | None) -> Row:
    return {
        "job_id": job["id"],
        "name": "rows",
        "filename": (filename or None) and filename[:255],
        "row_count": len(rows),
        "input_chars": chars,
        "data": pack_rows(rows),
        "created_at": job["created_at"],
    }


def validate_input(kind: Kind, text: str) -> str:
    """Refuse what would only waste a provider call, with a sentence saying how to fix it."""
    text = (text or "").strip()
    if not text:
        raise InputRejected(f"Tell me what to work on: `{kind.command} <what you need>`.")
    if len(text) > kind.max_input_chars:
        raise InputRejected(
            f"That is {len(text):,} characters; {kind.command} takes at most "
            f"{kind.max_input_chars:,}. Shorten it or attach the details in a document."
        )
    return text


def _kind(kinds: KindsConfig, name: str) -> Kind:
    try:
        return kinds.get(name)
    except ValueError as exc:
        raise InputRejected(str(exc)) from None


def _job_row(
    kind: Kind, text: str, user: str, where: Row, key: str | None, options: Options | None = None
) -> Row:
    now = utcnow()
    return {
        "id": new_job_id(),
        "kind": kind.name,
        "lane": kind.lane,
        "status": JobStatus.QUEUED.value,
        "priority": kind.priority,
        **where,
        "requested_by": user,
        "input_text": text,
        "idempotency_key": key,
        "attempts": 1,
        "turn": 1,
        "max_attempts": kind.max_attempts,
        "model": (options.value("model") if options else None) or kind.model,
        "options": options.as_json() if options else None,
        "deadline_at": now + timedelta(seconds=kind.timeout_seconds),
        "created_at": now,
        "updated_at": now,
    }


def _rows(job: Row, kind: Kind, text: str, user: str) -> Rows_:
    """The job, its first attempt, its "submitted" event, its "queued" notice, its first
    turn and, for a job asked in Slack, its thread's agent status, each with its table."""
    job_id, now = job["id"], job["created_at"]
    attempt = {
        "job_id": job_id,
        "number": 1,
        "idempotency_key": attempt_key(job_id, 1),
        "create_calls": 0,
        "uncertain_creates": 0,
        "checks": 0,
        "created_at": now,
    }
    detail = f"{kind.name}: {text[:200]}"
    event = event_row(job_id, user, "submitted", to_status=job["status"], detail=detail, at=now)
    turn = {
        "job_id": job_id,
        "number": 1,
        "actor": user,
        "input_text": text,
        "message_ts": job.get("asked_ts"),
        "created_at": now,
    }
    rows: Rows_ = [
        (jobs, job),
        (attempts, attempt),
        (events, event),
        (notices, notice_row(job_id, "queued", key="queued", at=now)),
    ]
    if job.get("channel_id"):
        working = {"status": WORKING}
        key = f"{AGENT_STATUS}:submitted"
        rows.append((notices, notice_row(job_id, AGENT_STATUS, key=key, detail=working, at=now)))
    return [*rows, (turns, turn)]  # last: see `_chained`


def store_new_job(engine: Engine, new: Rows_) -> None:
    """Insert the job and the rows that come with it (each with its table), the job
    first; a repeated idempotency key raises `IntegrityError`."""
    rows = tuple(new)
    if engine.dialect.name == "postgresql":
        _in_one_statement(engine, rows)
    else:
        shared_commit(engine).insert(rows)


def _in_one_statement(engine: Engine, rows: tuple[tuple[Table, Row], ...]) -> None:
    statement, names = _chained(tuple((table, tuple(row)) for table, row in rows))
    params = {
        name: value
        for table_names, (_, row) in zip(names, rows, strict=True)
        for name, value in zip(table_names, row.values(), strict=True)
    }
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(statement, params)


@functools.cache
def _chained(
    shape: tuple[tuple[Table, tuple[str, ...]], ...],
) -> tuple[Insert, tuple[tuple[str, ...], ...]]:
    """WITH j AS (INSERT …), a AS (INSERT …), e AS (INSERT …) INSERT …, and each row's
    parameter names; built once per set of columns, so each call only binds values.
    PostgreSQL checks the foreign keys at the end of the statement, when the job
    row exists."""
    *earlier, last = shape
    statement = _insert(len(earlier), *last)
    # PostgreSQL runs the statement's own INSERT first, then its unreferenced CTEs last
    # added first: added in reverse, they run in the order given, so a job's notices are
    # numbered (and delivered) as listed, its card's first.
    for index, (table, columns) in reversed(list(enumerate(earlier))):
        statement = statement.add_cte(_insert(index, table, columns).cte(f"new_{index}"))
    names = tuple(
        tuple(_name(index, table, c) for c in columns)
        for index, (table, columns) in enumerate(shape)
    )
    return statement, names


def _insert(index: int, table: Table, columns: tuple[str, ...]) -> Insert:
    values = {c: bindparam(_name(index, table, c), type_=table.c[c].type) for c in columns}
    return insert(table).values(values)


def _name(index: int, table: Table, column: str) -> str:
    """Each row's values under names of their own (`r0_jobs_id`): two notices never share one."""
    return f"r{index}_{table.name}_{column}"
