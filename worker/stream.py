"""Live progress for kinds with `stream: true`: read the background response's events.

The response is created with `background=true, stream=true` (so the provider keeps
its events); the create call keeps only the first event. A `stream_job` task on the
`errand-stream` queue then reads the events with
`responses.retrieve(id, stream=True, starting_after=cursor)` -- the same call for the
first read and for a resume -- on a thread of the worker process, so a long stream
never blocks the worker's pulses. (The SDK's `responses.stream(response_id=...)`
helper does not send the cursor, hence `retrieve`.)

* The last `sequence_number` is kept in `attempts.stream_cursor` (at most once a
  second), with a heartbeat that pushes the job's next poll out while events flow.
* Lifecycle events are applied as the follow pulse would apply a retrieve; the
  terminal event carries the whole response, so the job finishes with no retrieve.
* Progress reaches people as a `progress` notice at most every `PROGRESS_EVERY`.
* A Redis lease per response (kept alive by one keeper thread) makes one reader at a
  time. If the worker dies the lease lapses, and the follow pulse's `redrive`
  dispatches the stream again, resuming after the cursor. If the stream just dies,
  the follow pulse polls the job as it polls any other, and finishes it.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx2
import openai
from openai.types.responses import Response
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import and_, or_, select, update

from errand.metrics import STREAM_EVENTS, STREAMS, provider_call
from errand.runtime import Runtime
from models.base import utcnow
from models.job import Attempt, Job
from models.lifecycle import ACTIVE, add_notice
from worker.finish import observe

log = logging.getLogger(__name__)

LEASE_KEY = "errand:stream:{response_id}"
LEASE_TTL = 10.0  # a dead worker's stream is taken over this long after its last renewal
KEEP_EVERY = 3.0  # how often the keeper renews the leases this process holds
IDLE_TIMEOUT = 120.0  # no event for this long: close; the follow pulse re-opens it
CURSOR_EVERY = 1.0  # write the cursor (and the heartbeat) at most this often
HEARTBEAT = timedelta(seconds=30)  # while events flow, the next poll waits this long
PROGRESS_EVERY = 10.0  # at most one progress notice per job this often
PREVIEW_CHARS = 300
SLOTS = 16  # streams one worker process reads at once
REDRIVE_BATCH = 100
LIFECYCLE = frozenset({"response.queued", "response.in_progress"})
TERMINAL = frozenset({"response.completed", "response.failed", "response.incomplete"})


@dataclass(frozen=True)
class Target:
    """The stream one task reads: its job, attempt and where to resume."""

    job_id: str
    attempt_id: int
    attempt: int
    response_id: str
    cursor: int | None


@dataclass
class Reading:
    """What a stream has seen so far, and when it last wrote."""

    cursor: int | None
    chars: int = 0
    tail: str = ""
    saved_cursor: int | None = None
    saved_at: float = 0.0
    progress_at: float = field(default_factory=time.monotonic)


# -- entry points ----------------------------------------------------------------------


def stream_job(runtime: Runtime, job_id: str) -> str:
    """The RQ task: take the lease and a slot, then read on a thread; returns at once."""
    target = find_target(runtime, job_id)
    if target is None:
        return "nothing to stream"
    if not _slots.acquire(blocking=False):
        return "no free stream slot; the follow pulse will dispatch it again"
    token = _keeper.take(runtime.redis, target.response_id)
    if token is None:
        _slots.release()
        return "already streaming"
    threading.Thread(
        target=_read_then_release,
        args=(runtime, target),
        name=f"errand-stream-{job_id}",
        daemon=True,
    ).start()
    return "streaming" if target.cursor is None else f"resuming after {target.cursor}"


def redrive(runtime: Runtime) -> int:
    """Dispatch a stream for every active streaming job whose lease is free (start or resume)."""
    kinds = [k.name for k in runtime.kinds.kinds.values() if k.stream]
    if not kinds:
        return 0
    with runtime.unit() as unit:
        rows = unit.session.execute(
            select(Job.id, Attempt.response_id)
            .join(Attempt, and_(Attempt.job_id == Job.id, Attempt.number == Job.attempts))
            .where(
                Job.kind.in_(kinds),
                Job.status.in_([s.value for s in ACTIVE]),
                Job.stop_requested.is_(None),
                Attempt.response_id.is_not(None),
            )
            .limit(REDRIVE_BATCH)
        ).all()
    if not rows:
        return 0
    pipe = runtime.redis.pipeline(transaction=False)
    for _, response_id in rows:
        pipe.exists(LEASE_KEY.format(response_id=response_id))
    held = pipe.execute()
    free = [job_id for (job_id, _), taken in zip(rows, held, strict=True) if not taken]
    for job_id in free:
        runtime.dispatch.stream(job_id)
    return len(free)


def find_target(runtime: Runtime, job_id: str) -> Target | None:
    """The job's current attempt, if it is active, streams, and has a response."""
    with runtime.unit() as unit:
        row = unit.session.execute(
            select(Job.kind, Attempt.id, Attempt.number, Attempt.response_id, Attempt.stream_cursor)
            .join(Attempt, and_(Attempt.job_id == Job.id, Attempt.number == Job.attempts))
            .where(Job.id == job_id, Job.status.in_([s.value for s in ACTIVE]))
        ).first()
    if row is None or row.response_id is None:
        return None
    kind = runtime.kinds.kinds.get(row.kind)
    if kind is None or not kind.stream:
        return None
    return Target(job_id, row.id, row.number, row.response_id, row.stream_cursor)


# -- reading ---------------------------------------------------------------------------


def _read_then_release(runtime: Runtime, target: Target) -> None:
    try:
        read(runtime, target)
    except Exception:
        log.exception("stream reader failed", extra={"job_id": target.job_id})
    finally:
        _keeper.release(runtime.redis, target.response_id)
        _slots.release()


def read(runtime: Runtime, target: Target) -> str:
    """Read events after the cursor until the response ends or the stream does."""
    phase = "start" if target.cursor is None else "resume"
    reading = Reading(cursor=target.cursor, saved_cursor=target.cursor)
    log.info("stream %s", phase, extra={"job_id": target.job_id, "starting_after": target.cursor})
    try:
        events = _open(runtime, target)
    except openai.OpenAIError as exc:
        provider_call("stream", _outcome(exc))
        STREAMS.labels(phase, "open_failed").inc()
        return "could not open"
    provider_call("stream", "ok")
    outcome = "ended"
    try:
        with events:
            for event in events:
                if _on_event(runtime, target, reading, event):
                    outcome = "finished"
                    break
    except (openai.OpenAIError, httpx2.HTTPError) as exc:
        log.info("stream dropped", extra={"job_id": target.job_id, "error": str(exc)})
        outcome = "dropped"
    _save(runtime, target, reading, force=True, poll_now=outcome != "finished")
    STREAMS.labels(phase, outcome).inc()
    return outcome


def _open(runtime: Runtime, target: Target) -> Any:
    client = runtime.openai.with_options(
        max_retries=0, timeout=httpx2.Timeout(IDLE_TIMEOUT, connect=10.0)
    )
    after: Any = openai.omit if target.cursor is None else target.cursor
    return client.responses.retrieve(target.response_id, stream=True, starting_after=after)


def _outcome(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    transient = status is None or status in (408, 409, 429) or status >= 500
    return "transient" if transient else "permanent"


def _on_event(runtime: Runtime, target: Target, reading: Reading, event: Any) -> bool:
    """Handle one event; True once the response has ended."""
    STREAM_EVENTS.inc()
    kind = str(getattr(event, "type", ""))
    sequence = getattr(event, "sequence_number", None)
    if isinstance(sequence, int):
        reading.cursor = sequence
    if kind == "response.output_text.delta":
        delta = str(getattr(event, "delta", "") or "")
        reading.chars += len(delta)
        reading.tail = (reading.tail + delta)[-PREVIEW_CHARS:]
    response = getattr(event, "response", None)
    if isinstance(response, Response) and (kind in LIFECYCLE or kind in TERMINAL):
        _save(runtime, target, reading, force=True)
        observe(runtime, response)
        return kind in TERMINAL
    _save(runtime, target, reading)
    return False


def _save(
    runtime: Runtime,
    target: Target,
    reading: Reading,
    *,
    force: bool = False,
    poll_now: bool = False,
) -> None:
    """Write the cursor (rate-bounded), push the next poll out, and maybe note progress."""
    now = time.monotonic()
    if reading.cursor is None or not (force or now - reading.saved_at >= CURSOR_EVERY):
        return
    if reading.cursor == reading.saved_cursor and not poll_now:
        return
    progress = now - reading.progress_at >= PROGRESS_EVERY and reading.chars > 0
    with runtime.unit() as unit:
        unit.session.execute(
            update(Attempt)
            .where(
                Attempt.id == target.attempt_id,
                or_(Attempt.stream_cursor.is_(None), Attempt.stream_cursor < reading.cursor),
            )
            .values(stream_cursor=reading.cursor)
        )
        _schedule_poll(unit.session, target, poll_now=poll_now)
        if progress and _is_current(unit.session, target):
            add_notice(
                unit.session,
                target.job_id,
                "progress",
                key=f"progress:{target.attempt}:{reading.cursor}",
                detail={"chars": reading.chars, "preview": reading.tail},
            )
    reading.saved_cursor, reading.saved_at = reading.cursor, now
    if progress:
        reading.progress_at = now


def _schedule_poll(session: Any, target: Target, *, poll_now: bool) -> None:
    """While events flow the next poll can wait; once the stream is gone, poll now."""
    now = utcnow()
    active = [s.value for s in ACTIVE]
    current = and_(Job.id == target.job_id, Job.attempts == target.attempt, Job.status.in_(active))
    if poll_now:
        session.execute(update(Job).where(current).values(next_check_at=now))
        return
    horizon = now + HEARTBEAT
    session.execute(
        update(Job).where(current, Job.next_check_at < horizon).values(next_check_at=horizon)
    )


def _is_current(session: Any, target: Target) -> bool:
    status = session.scalar(
        select(Job.status).where(Job.id == target.job_id, Job.attempts == target.attempt)
    )
    return status in {s.value for s in ACTIVE}


# -- one reader per response, across workers --------------------------------------------


class LeaseKeeper:
    """Holds this process's stream leases in Redis and renews them from one thread."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[Redis, str]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def take(self, redis: Redis, response_id: str) -> str | None:
        key = LEASE_KEY.format(response_id=response_id)
        token = secrets.token_hex(8)
        try:
            if not redis.set(key, token, nx=True, px=int(LEASE_TTL * 1000)):
                return None
        except RedisError:
            return None
        with self._lock:
            self._held[key] = (redis, token)
            if self._thread is None:
                self._thread = threading.Thread(target=self._renew, name="errand-leases")
                self._thread.daemon = True
                self._thread.start()
        return token

    def release(self, redis: Redis, response_id: str) -> None:
        key = LEASE_KEY.format(response_id=response_id)
        with self._lock:
            held = self._held.pop(key, None)
        if held is None:
            return
        try:
            if redis.get(key) == held[1].encode():
                redis.delete(key)
        except RedisError:
            log.warning("stream lease not released; it will lapse", extra={"key": key})

    def _renew(self) -> None:
        while True:
            time.sleep(KEEP_EVERY)
            with self._lock:
                held = list(self._held.items())
            for key, (redis, token) in held:
                try:
                    redis.set(key, token, xx=True, px=int(LEASE_TTL * 1000))
                except RedisError:
                    log.warning("stream lease not renewed", extra={"key": key})


_keeper = LeaseKeeper()
_slots = threading.BoundedSemaphore(SLOTS)
