"""Live progress for kinds with `stream: true`: read the background response's events.

The response is created with `background=true, stream=true` (so the provider keeps
its events); the create call keeps only the first event. The follow pulse then opens
each streaming job's events with `responses.retrieve(id, stream=True, starting_after=
cursor)` -- the same call for the first read and for a resume -- on a thread of the
worker process, so a long stream never blocks the worker's pulses. (The SDK's
`responses.stream(response_id=...)` helper does not send the cursor, hence `retrieve`.)

* The last `sequence_number` is kept in `attempts.stream_cursor` (at most once a
  second), with a heartbeat that pushes the job's next poll out while events flow.
* Lifecycle events are applied as the follow pulse would apply a retrieve; the
  terminal event carries the whole response, so the job finishes with no retrieve.
* Progress reaches people as a `progress` notice at most every `progress_every` of
  the kind; for `interactive` lane jobs it carries the whole text so far (`text`), and
  the first one goes as soon as the first words do. Other lanes' notices carry the plan of
  what the model is doing (`steps`, `models.steps`): a new step at once, a step's later
  change within STEP_EVERY. Each progress wakes the notify pulse.
* An interactive job's stream is always read from its first event, a resumed one too
  (after a restart): the text so far is rebuilt from the events the cursor has passed,
  which are otherwise skipped, so the next progress still carries all of it.
* One reader at a time per response (`worker.leases`). If the stream just dies, the
  follow pulse polls the job as it polls any other, and finishes it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx2
import openai
from openai.types.responses import Response

from models.base import utcnow
from models.kinds import Kind
from models.signals import wake
from models.steps import Plan
from models.store.stream import StreamTarget, save_reading, stream_target, streamable
from worker.answers import apply
from worker.context import Context
from worker.leases import LeaseKeeper, held
from worker.metrics import STREAM_EVENTS, STREAMS, provider_call

log = logging.getLogger(__name__)

CURSOR_EVERY = 1.0  # write the cursor (and the heartbeat) at most this often
HEARTBEAT = timedelta(seconds=30)  # while events flow, the next poll waits this long
PREVIEW_CHARS = 300
STEP_EVERY = 2.0  # a change of step is noted at most this often (if progress_every is longer)
SLOTS = 16  # streams one worker process reads at once
REDRIVE_BATCH = 100
LIFECYCLE = frozenset({"response.queued", "response.in_progress"})
TERMINAL = frozenset({"response.completed", "response.failed", "response.incomplete"})


@dataclass
class Reading:
    """What a stream has seen so far, and when it last wrote."""

    cursor: int | None
    chars: int = 0
    tail: str = ""
    saved_cursor: int | None = None
    saved_at: float = 0.0
    progress_at: float = field(default_factory=time.monotonic)
    every: float = 10.0  # at most one progress notice this often
    text: list[str] | None = None  # the whole text so far, when progress carries it
    replay_until: int | None = None  # events up to here were read before: text only
    noted: bool = False  # a progress notice has gone out
    plan: Plan | None = None  # what the model is doing, when progress carries it


# -- entry points ----------------------------------------------------------------------


def redrive(ctx: Context) -> int:
    """Open a stream for every active streaming job no worker reads (start or resume)."""
    kinds = [k.name for k in ctx.kinds.kinds.values() if k.stream]
    if not kinds:
        return 0
    rows = streamable(ctx.db, kinds, limit=REDRIVE_BATCH)
    if not rows:
        return 0
    taken = held(ctx.redis, [response_id for _, response_id in rows])
    free = [job_id for (job_id, _), busy in zip(rows, taken, strict=True) if not busy]
    for job_id in free:
        open_stream(ctx, job_id)
    return len(free)


def open_stream(ctx: Context, job_id: str) -> str:
    """Take a slot and the response's lease, then read on a thread; returns at once."""
    found = stream_target(ctx.db, job_id)
    kind = ctx.kinds.kinds.get(found[0]) if found else None
    if found is None or kind is None or not kind.stream:
        return "nothing to stream"
    target = found[1]
    if not _slots.acquire(blocking=False):
        return "no free stream slot; the follow pulse will open it again"
    if _keeper.take(ctx.redis, target.response_id) is None:
        _slots.release()
        return "already streaming"
    threading.Thread(
        target=_read_then_release,
        args=(ctx, target, kind),
        name=f"errand-stream-{job_id}",
        daemon=True,
    ).start()
    return "streaming" if target.cursor is None else f"resuming after {target.cursor}"


# -- reading ---------------------------------------------------------------------------


def _read_then_release(ctx: Context, target: StreamTarget, kind: Kind) -> None:
    try:
        read(ctx, target, kind)
    except Exception:
        log.exception("stream reader failed", extra={"job_id": target.job_id})
    finally:
        _keeper.release(ctx.redis, target.response_id)
        _slots.release()


def read(ctx: Context, target: StreamTarget, kind: Kind) -> str:
    """Read events after the cursor until the response ends or the stream does."""
    phase = "start" if target.cursor is None else "resume"
    reading = Reading(cursor=target.cursor, saved_cursor=target.cursor, every=kind.progress_every)
    after = target.cursor
    if kind.lane == "interactive":
        reading.text, reading.replay_until, after = [], target.cursor, None
    else:
        reading.plan = Plan()
    log.info("stream %s", phase, extra={"job_id": target.job_id, "starting_after": target.cursor})
    try:
        events = ctx.provider.events(target.response_id, after=after)
    except openai.OpenAIError as exc:
        provider_call("stream", _outcome(exc))
        STREAMS.labels(phase, "open_failed").inc()
        return "could not open"
    provider_call("stream", "ok")
    outcome = follow(ctx, target, reading, events)
    save(ctx, target, reading, force=True, poll_now=outcome != "finished")
    STREAMS.labels(phase, outcome).inc()
    return outcome


def follow(ctx: Context, target: StreamTarget, reading: Reading, events: Any) -> str:
    """Apply events until the response ends ("finished"), the stream breaks ("dropped") or
    it ends without a word of why ("ended")."""
    try:
        with events:
            for event in events:
                if _on_event(ctx, target, reading, event):
                    return "finished"
    except (openai.OpenAIError, httpx2.HTTPError) as exc:
        log.info("stream dropped", extra={"job_id": target.job_id, "error": str(exc)})
        return "dropped"
    return "ended"


def _outcome(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    transient = status is None or status in (408, 409, 429) or status >= 500
    return "transient" if transient else "permanent"


def _on_event(ctx: Context, target: StreamTarget, reading: Reading, event: Any) -> bool:
    """Handle one event; True once the response has ended."""
    STREAM_EVENTS.inc()
    kind = str(getattr(event, "type", ""))
    sequence = getattr(event, "sequence_number", None)
    if kind == "response.output_text.delta":
        _take_text(reading, str(getattr(event, "delta", "") or ""))
    stepped = reading.plan is not None and reading.plan.see(event)
    if isinstance(sequence, int) and reading.replay_until is not None:
        if sequence <= reading.replay_until:
            return False  # read before a restart: only its text was wanted
        reading.replay_until = None
    if isinstance(sequence, int):
        reading.cursor = sequence
    response = getattr(event, "response", None)
    if isinstance(response, Response) and (kind in LIFECYCLE or kind in TERMINAL):
        save(ctx, target, reading, force=True)
        with ctx.db.unit() as unit:
            apply(unit.session, ctx.kinds, response, webhooks=ctx.settings.webhooks_enabled)
        return kind in TERMINAL
    first_words = reading.text is not None and not reading.noted and reading.chars > 0
    save(ctx, target, reading, force=first_words or stepped)
    return False


def _take_text(reading: Reading, delta: str) -> None:
    reading.chars += len(delta)
    reading.tail = (reading.tail + delta)[-PREVIEW_CHARS:]
    if reading.text is not None:
        reading.text.append(delta)


def save(
    ctx: Context,
    target: StreamTarget,
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
    stepped = reading.plan is not None and reading.plan.changed
    first = not reading.noted and reading.text is not None
    first = first or (reading.plan is not None and reading.plan.grew)
    every = min(reading.every, STEP_EVERY) if stepped else reading.every
    due = (first or now - reading.progress_at >= every) and (reading.chars > 0 or stepped)
    progress = _progress(reading) if due else None
    poll_at = utcnow() + HEARTBEAT
    save_reading(
        ctx.db, target, reading.cursor, poll_at=poll_at, poll_now=poll_now, progress=progress
    )
    reading.saved_cursor, reading.saved_at = reading.cursor, now
    if due:
        reading.progress_at, reading.noted = now, True
        wake(ctx.redis, "notify")


def _progress(reading: Reading) -> dict[str, Any]:
    progress: dict[str, Any] = {"chars": reading.chars, "preview": reading.tail}
    if reading.text is not None:
        progress["text"] = "".join(reading.text)
    if reading.plan is not None and reading.plan.steps:
        progress["steps"] = reading.plan.detail()
    return progress


_keeper = LeaseKeeper()
_slots = threading.BoundedSemaphore(SLOTS)
