"""Server-Sent Events for streamed (and resumed) sandbox responses.

The event list is a pure function of the record, each event stamped with the offset from
creation at which it "happens". A stream waits for each offset in turn, so a resumed stream
(``GET /v1/responses/{id}?stream=true&starting_after=N``) replays exactly the events a live
one would have sent. Cancellation simply ends the stream: the API defines no
``response.cancelled`` stream event (only a webhook), so clients must retrieve to learn why.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator

from sandbox.openai_responses import (
    JSON,
    ResponseRecord,
    derived_id,
    message_item,
    reasoning_item,
    render,
    text_part,
)

_MAX_DELTAS = 40
_CANCEL_POLL_SECONDS = 0.25
Timed = tuple[float, JSON]


def stream_events(record: ResponseRecord) -> list[JSON]:
    """All events of the response in order, with ``sequence_number`` starting at 0."""
    return [event for _, event in timed_events(record)]


def timed_events(record: ResponseRecord) -> list[Timed]:
    """Events paired with their offsets (seconds after creation)."""
    queue = min(record.queue_s, record.duration_s)
    timed: list[Timed] = [
        (0.0, _lifecycle("response.created", record, "queued")),
        (0.0, _lifecycle("response.queued", record, "queued")),
        (queue, _lifecycle("response.in_progress", record, "in_progress")),
    ]
    outcome = record.scenario.outcome
    if outcome != "failed":
        timed += _output_events(record, queue)
    timed.append((record.duration_s, _lifecycle(f"response.{outcome}", record, outcome)))
    for number, (_, event) in enumerate(timed):
        event["sequence_number"] = number
    return timed


def _lifecycle(kind: str, record: ResponseRecord, status: str) -> JSON:
    return {"type": kind, "response": render(record, status)}


def _output_events(record: ResponseRecord, start: float) -> list[Timed]:
    """Reasoning item, then the message with text deltas spread until the end."""
    end = record.duration_s
    item_status = "incomplete" if record.scenario.outcome == "incomplete" else "completed"
    msg_id = derived_id("msg_", record.id)
    part = {"item_id": msg_id, "output_index": 1, "content_index": 0}
    events: list[Timed] = [
        (start, _item_event("added", 0, reasoning_item(record, "in_progress"))),
        (start, _item_event("done", 0, reasoning_item(record, "completed"))),
        (start, _item_event("added", 1, message_item(record, "in_progress", with_text=False))),
        (start, {"type": "response.content_part.added", **part, "part": text_part(record, True)}),
    ]
    chunks = _chunks(record.answer.text)
    for n, chunk in enumerate(chunks, 1):
        at = start + (end - start) * n / (len(chunks) + 1)
        delta = {"type": "response.output_text.delta", **part, "delta": chunk, "logprobs": []}
        events.append((at, delta))
    text = record.answer.text
    events += [
        (end, {"type": "response.output_text.done", **part, "text": text, "logprobs": []}),
        (end, {"type": "response.content_part.done", **part, "part": text_part(record)}),
        (end, _item_event("done", 1, message_item(record, item_status))),
    ]
    return events


def _item_event(phase: str, index: int, item: JSON) -> JSON:
    return {"type": f"response.output_item.{phase}", "output_index": index, "item": item}


def _chunks(text: str) -> list[str]:
    if not text:
        return []
    size = max(1, math.ceil(len(text) / _MAX_DELTAS))
    return [text[i : i + size] for i in range(0, len(text), size)]


def encode(event: JSON) -> bytes:
    """One SSE frame: ``event: <type>`` and ``data: <json>``."""
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def paced_stream(
    record: ResponseRecord,
    starting_after: int | None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[bytes]:
    """Yield events after ``starting_after`` as their times come; stop early on cancel."""
    for offset, event in timed_events(record):
        if starting_after is not None and event["sequence_number"] <= starting_after:
            continue
        due = record.created_at + offset
        if not _wait_until(record, due, clock, sleep):
            return
        yield encode(event)


def _wait_until(
    record: ResponseRecord,
    due: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> bool:
    """Sleep until ``due``; ``False`` if the response was cancelled before then."""
    while True:
        cancelled = record.cancelled_at
        if cancelled is not None and cancelled < due:
            return False
        remaining = due - clock()
        if remaining <= 0:
            return True
        sleep(min(remaining, _CANCEL_POLL_SECONDS))
