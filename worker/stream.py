"""What a response's events mean for its job, read by whichever reader holds the stream.

Background responses are created with `background=true, stream=true` (so the provider
keeps their events) and followed over their event stream by `worker.stream_reader`;
a held stream (zero data retention, `worker.held`) is read by the worker holding it.
Both hand every event to `take`, which keeps the `Reading`:

* The last `sequence_number` is the cursor a dropped stream resumes after (stored in
  `attempts.stream_cursor`), with a heartbeat that pushes the job's next poll out while
  events flow: polling stays the safety net for a stream that falls silent.
* Lifecycle events are applied as the follow pulse would apply a retrieve; the
  terminal event carries the whole response, so the job finishes with no retrieve.
* For kinds with `stream: true`, progress reaches people as a `progress` notice at most
  every `progress_every` of the kind; for `interactive` lane jobs it carries the whole
  text so far (`text`), and the first one goes as soon as the first words do. Other
  lanes' notices carry the plan of what the model is doing (`steps`, `models.steps`): a
  new step at once, a step's later change within STEP_EVERY. Each progress wakes the
  notify pulse.
* An interactive job's stream is read from its first event when a reader first opens it
  (after a restart too): the text so far is rebuilt from the events the cursor has
  passed, which are otherwise skipped, so the next progress still carries all of it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx2
import openai
from openai.types.responses import Response
from sqlalchemy.orm import Session

from models.base import utcnow
from models.signals import wake
from models.steps import Plan
from models.store.stream import StreamTarget, save_reading
from worker.answers import apply
from worker.context import Context
from worker.metrics import STREAM_EVENTS

log = logging.getLogger(__name__)

CURSOR_EVERY = 1.0  # write the cursor (and the heartbeat) at most this often
HEARTBEAT = timedelta(seconds=30)  # while events flow, the next poll waits this long
PREVIEW_CHARS = 300
STEP_EVERY = 2.0  # a change of step is noted at most this often (if progress_every is longer)
# A background response is created `queued` and the create's answer stored that status
# (`worker.responses.take_response`): `response.queued` tells nothing new, so only the
# start of its run is applied (a transaction fewer per job, and one event less to type).
LIFECYCLE = frozenset({"response.in_progress"})
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


@dataclass(frozen=True)
class Step:
    """What one event asks of its reader: a response to record (a lifecycle or terminal
    event; `terminal` once it has ended), or the cursor saved now (the first words)."""

    response: Response | None = None
    terminal: bool = False
    save_now: bool = False


def take(reading: Reading, event: Any) -> Step | None:
    """Note one event in the reading; None for an event read before a restart (only its
    text was wanted)."""
    STREAM_EVENTS.inc()
    kind = str(getattr(event, "type", ""))
    sequence = getattr(event, "sequence_number", None)
    if kind == "response.output_text.delta":
        _take_text(reading, str(getattr(event, "delta", "") or ""))
    stepped = reading.plan is not None and reading.plan.see(event)
    if isinstance(sequence, int) and reading.replay_until is not None:
        if sequence <= reading.replay_until:
            return None
        reading.replay_until = None
    if isinstance(sequence, int):
        reading.cursor = sequence
    response = getattr(event, "response", None)
    if isinstance(response, Response) and (kind in LIFECYCLE or kind in TERMINAL):
        return Step(response, terminal=kind in TERMINAL)
    first_words = reading.text is not None and not reading.noted and reading.chars > 0
    return Step(save_now=first_words or stepped)


def record(
    ctx: Context, target: StreamTarget, reading: Reading, response: Response, *, terminal: bool
) -> None:
    """Apply a lifecycle or terminal event's response and, while the stream goes on, save
    the cursor in the same transaction: applying schedules the next poll by the kind's
    polling policy, and the save's heartbeat then pushes it out again. After the
    terminal event there is nothing left to resume or to poll."""
    due = None if terminal else _due(reading, force=True)
    with ctx.db.unit() as unit:
        apply(unit.session, ctx.kinds, response, webhooks=ctx.settings.webhooks_enabled)
        if due is not None:
            _write(unit.session, target, due)
    if due is not None:
        _saved(ctx, reading, due)


def _on_event(ctx: Context, target: StreamTarget, reading: Reading, event: Any) -> bool:
    """Handle one event where it is read; True once the response has ended."""
    step = take(reading, event)
    if step is None:
        return False
    if step.response is not None:
        record(ctx, target, reading, step.response, terminal=step.terminal)
        return step.terminal
    save(ctx, target, reading, force=step.save_now)
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
    due = _due(reading, force=force, poll_now=poll_now)
    if due is None:
        return
    with ctx.db.unit() as unit:
        _write(unit.session, target, due)
    _saved(ctx, reading, due)


@dataclass(frozen=True)
class _Save:
    """One save of a reading, decided before it is written and noted once it is."""

    cursor: int
    at: float
    poll_now: bool
    progress: dict[str, Any] | None


def _due(reading: Reading, *, force: bool, poll_now: bool = False) -> _Save | None:
    """What `save` would write now, if anything (`save_due`), with any progress due."""
    now, cursor = time.monotonic(), reading.cursor
    if cursor is None or not save_due(reading, now, force=force, poll_now=poll_now):
        return None
    stepped = reading.plan is not None and reading.plan.changed
    first = not reading.noted and reading.text is not None
    first = first or (reading.plan is not None and reading.plan.grew)
    every = min(reading.every, STEP_EVERY) if stepped else reading.every
    due = (first or now - reading.progress_at >= every) and (reading.chars > 0 or stepped)
    return _Save(cursor, now, poll_now, _progress(reading) if due else None)


def _write(session: Session, target: StreamTarget, due: _Save) -> None:
    poll_at = utcnow() + HEARTBEAT
    save_reading(
        session, target, due.cursor, poll_at=poll_at, poll_now=due.poll_now, progress=due.progress
    )


def _saved(ctx: Context, reading: Reading, due: _Save) -> None:
    """Once written: the reading's saved cursor moves, and a progress notice is sent now."""
    reading.saved_cursor, reading.saved_at = due.cursor, due.at
    if due.progress is not None:
        reading.progress_at, reading.noted = due.at, True
        wake(ctx.redis, "notify")


def save_due(reading: Reading, now: float, *, force: bool, poll_now: bool = False) -> bool:
    """Whether `save` would write now: a new cursor, at most every CURSOR_EVERY unless
    forced (the stream's end writes even an unchanged one, to poll at once)."""
    if reading.cursor is None or not (force or now - reading.saved_at >= CURSOR_EVERY):
        return False
    return reading.cursor != reading.saved_cursor or poll_now


def _progress(reading: Reading) -> dict[str, Any]:
    progress: dict[str, Any] = {"chars": reading.chars, "preview": reading.tail}
    if reading.text is not None:
        progress["text"] = "".join(reading.text)
    if reading.plan is not None and reading.plan.steps:
        progress["steps"] = reading.plan.detail()
    return progress
