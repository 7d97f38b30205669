"""The stream reader: one asyncio event loop per worker process reads the event streams
of the background responses the worker follows, up to ERRAND_STREAMS_PER_WORKER at once.

Polling learns of a finished response up to a poll interval late (2 s, x1.5, up to 30 s)
and calls the provider every few seconds; a stream brings the terminal event the moment
the provider finishes, for one call. A thread per stream would not scale to thousands,
so every stream is a task on one loop with `openai.AsyncOpenAI`; the database is written
on a small pool beside it, so no write ever stalls another stream's events.

* Which: without webhooks, every background response of an active job (never a batch,
  nor a held stream: `worker.held`); with webhooks, which tell of the end, only kinds
  with `stream: true`, for their progress. The follow pulse calls `redrive`, which opens
  the streams no worker reads (`worker.leases`: one reader each across workers): new
  responses, and those of a worker that died, resumed after the stored cursor. Beyond
  the limit, jobs are polled as ever.
* A dropped stream is opened again at once after the last `sequence_number` seen. One
  the provider will not open (past its resumption window, or any error), or that keeps
  dropping, is handed to polling for a while (`POLLED_FOR`), and its job is polled now.
* While events flow the cursor is stored and the job's next poll pushed out (`HEARTBEAT`),
  for every stream in one write each `FLUSH_EVERY`; a stream that falls silent is polled
  when its heartbeat runs out, so a dead stream never strands a job.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2
import openai
from openai import AsyncOpenAI
from openai.types.responses import Response

from models.base import utcnow
from models.batch import LANE
from models.kinds import Kind
from models.signals import wake
from models.steps import Plan
from models.store.checks import check_now
from models.store.stream import StreamTarget, hold_polls, streamable
from worker.context import Context
from worker.leases import LeaseKeeper, held
from worker.metrics import (
    STREAM_FALLBACKS,
    STREAMS,
    STREAMS_OPEN,
    STREAMS_OPENED,
    provider_call,
)
from worker.provider import ErrorClass, classify
from worker.stream import HEARTBEAT, Reading, record, save, save_due, take
from worker.stream_events import open_events, typed

log = logging.getLogger(__name__)

T = TypeVar("T")
DB_THREADS = 4  # the pool writing what the streams read
END_THREADS = 4  # the pool applying the streams' ends, so no result waits behind the rest
FLUSH_EVERY = 2.0  # how often cursors and heartbeats are written, all streams at once
SAVE_EVERY = 10.0  # a stream's cursor and heartbeat at most this often (well inside HEARTBEAT)
MAX_DROPS = 3  # drops in a row with no new event: the stream is handed to polling
POLLED_FOR = {"refused": 3600.0, "error": 60.0, "ended": 60.0}  # seconds, by reason
FINISHED, DROPPED, ENDED = "finished", "dropped", "ended"


@dataclass
class Followed:
    """One stream being read: its target, its kind and what it has seen."""

    target: StreamTarget
    kind: Kind
    reading: Reading


class StreamReader:
    """This worker's streams: the loop thread reading them and the pool writing for them."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._limit = ctx.settings.streams_per_worker
        self._open: dict[str, Followed] = {}  # by response ID
        self._lock = threading.Lock()
        self._keeper = LeaseKeeper()
        self._writer = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="errand-stream-db")
        self._ender = ThreadPoolExecutor(END_THREADS, thread_name_prefix="errand-stream-end")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: AsyncOpenAI | None = None

    # -- the follow pulse's side --------------------------------------------------------

    def redrive(self) -> int:
        """Open the streams of responses no worker reads, up to the limit; returns how many."""
        with self._lock:
            reading = set(self._open)
        free = self._limit - len(reading)
        kinds = self._kinds()
        if free <= 0 or kinds == []:
            return 0
        rows = streamable(self._ctx.db, kinds, skip_lane=LANE, limit=len(reading) + 2 * free)
        known = self._ctx.kinds.kinds
        fresh = [(k, t) for k, t in rows if t.response_id not in reading and k in known]
        fresh.sort(key=lambda row: not known[row[0]].stream)  # progress first
        busy = held(self._ctx.redis, [t.response_id for _, t in fresh]) if fresh else []
        wanted = [(k, t) for (k, t), taken in zip(fresh, busy, strict=True) if not taken][:free]
        ours = set(self._keeper.take(self._ctx.redis, [t.response_id for _, t in wanted]))
        started = [self._followed(k, t) for k, t in wanted if t.response_id in ours]
        if not started:
            return 0
        hold_polls(self._ctx.db, [(f.target, None) for f in started], utcnow() + HEARTBEAT)
        loop = self._running_loop()
        with self._lock:
            self._open.update((f.target.response_id, f) for f in started)
        for followed in started:
            asyncio.run_coroutine_threadsafe(self._follow(followed), loop)
        return len(started)

    def _kinds(self) -> list[str] | None:
        """None for every kind (no webhooks); else the kinds that show progress."""
        if not self._ctx.settings.webhooks_enabled:
            return None
        return [k.name for k in self._ctx.kinds.kinds.values() if k.stream]

    def _followed(self, kind_name: str, target: StreamTarget) -> Followed:
        kind = self._ctx.kinds.get(kind_name)
        reading = Reading(
            cursor=target.cursor,
            saved_cursor=target.cursor,
            every=kind.progress_every if kind.stream else math.inf,
        )
        if kind.stream and kind.lane == "interactive":  # its text is read again from the start
            reading.text, reading.replay_until = [], target.cursor
        elif kind.stream:
            reading.plan = Plan()
        return Followed(target, kind, reading)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            threading.Thread(
                target=self._loop.run_forever, name="errand-streams", daemon=True
            ).start()
            asyncio.run_coroutine_threadsafe(self._flush_forever(), self._loop)
        return self._loop

    # -- the loop's side ----------------------------------------------------------------

    async def _follow(self, followed: Followed) -> None:
        """Read one response's stream to its end, then give it up (to polling unless done)."""
        STREAMS_OPEN.inc()
        outcome = "error"
        try:
            outcome = await self._read(followed)
        except Exception:
            log.exception("stream reader failed", extra={"job_id": followed.target.job_id})
        finally:
            STREAMS_OPEN.dec()
        try:
            await self._write(self._settle, followed, outcome)
        finally:
            with self._lock:
                self._open.pop(followed.target.response_id, None)

    async def _read(self, followed: Followed) -> str:
        """Open the stream, and again after each drop, until it ends; returns how."""
        target, reading, drops = followed.target, followed.reading, 0
        while True:
            after = None if reading.replay_until is not None else reading.cursor
            phase = "start" if after is None else "resume"
            log.info("stream %s", phase, extra={"job_id": target.job_id, "starting_after": after})
            try:
                events = await open_events(self._stream_client(), target.response_id, after)
            except (openai.OpenAIError, httpx2.HTTPError) as exc:
                error = classify(exc, "stream")
                provider_call("stream", error.cls.value)
                log.info("stream not opened", extra={"job_id": target.job_id, "why": error.reason})
                return "refused" if error.cls == ErrorClass.REFUSED else "error"
            provider_call("stream", "ok")
            STREAMS_OPENED.labels(phase).inc()
            before = reading.cursor
            outcome = await self._events(followed, events)
            STREAMS.labels(phase, outcome).inc()
            if outcome != DROPPED:
                return outcome
            drops = 0 if reading.cursor != before else drops + 1
            if drops >= MAX_DROPS:
                return "error"

    async def _events(self, followed: Followed, events: Any) -> str:
        """Take events until the response ends, the stream breaks or it closes early."""
        target, reading = followed.target, followed.reading
        try:
            async with events:
                async for raw in events:
                    step = take(reading, typed(raw))
                    if step is None:
                        continue
                    if step.terminal and step.response is not None:
                        await self._end(target, reading, step.response)
                        return FINISHED
                    if step.response is not None:
                        await self._write(
                            record, self._ctx, target, reading, step.response, terminal=False
                        )
                    elif followed.kind.stream and save_due(
                        reading, time.monotonic(), force=step.save_now
                    ):
                        await self._write(save, self._ctx, target, reading, force=step.save_now)
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            log.info("stream dropped", extra={"job_id": target.job_id, "error": str(exc)})
            return DROPPED
        return ENDED

    def _stream_client(self) -> AsyncOpenAI:
        if self._client is None:  # made on the loop, whose connections it pools
            self._client = self._ctx.provider.stream_client(max(self._limit, 1))
        return self._client

    async def _write(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, lambda: call(*args, **kwargs))

    async def _end(self, target: StreamTarget, reading: Reading, response: Response) -> None:
        """Record a terminal event on a pool of its own: under a burst the lifecycle events
        and cursors of hundreds of streams queue for the writers, and an answer waiting
        behind them reached Slack tens of seconds after the provider finished."""
        loop = asyncio.get_running_loop()
        with self._ctx.right_of_way.result():
            await loop.run_in_executor(self._ender, self._record_end, target, reading, response)

    def _record_end(self, target: StreamTarget, reading: Reading, response: Response) -> None:
        record(self._ctx, target, reading, response, terminal=True)
        wake(self._ctx.redis, "notify")  # the result goes out now, not after the writers

    async def _flush_forever(self) -> None:
        """Store the cursors that moved and push those jobs' polls out, in one write."""
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            try:
                await self._write(self._flush)
            except Exception:
                log.exception("stream cursors not saved; the next flush tries again")

    # -- the pool's side ----------------------------------------------------------------

    def _flush(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [
                f
                for f in self._open.values()
                if f.reading.cursor is not None
                and f.reading.cursor != f.reading.saved_cursor
                and now - f.reading.saved_at >= SAVE_EVERY
            ]
        cursors = [(f.target, f.reading.cursor) for f in due]
        hold_polls(self._ctx.db, cursors, utcnow() + HEARTBEAT)
        for followed, (_, cursor) in zip(due, cursors, strict=True):
            followed.reading.saved_cursor, followed.reading.saved_at = cursor, now

    def _settle(self, followed: Followed, outcome: str) -> None:
        """A finished stream gives its lease up; any other hands its job to polling, now."""
        target, redis = followed.target, self._ctx.redis
        if outcome == FINISHED:
            self._keeper.release(redis, target.response_id)
            return
        STREAM_FALLBACKS.labels(outcome).inc()
        self._keeper.hand_to_polling(redis, target.response_id, POLLED_FOR.get(outcome, 60.0))
        save(self._ctx, target, followed.reading, force=True)
        check_now(self._ctx.db, target.response_id)
        wake(redis, "follow")
