"""Server-Sent Events for streamed (and resumed) sandbox responses.

The event list is a pure function of the record, each event stamped with the offset from
creation at which it "happens". A stream waits for each offset in turn, so a resumed stream
(``GET /v1/responses/{id}?stream=true&starting_after=N``) replays exactly the events a live
one would have sent. Cancellation simply ends the stream: the API defines no
``response.cancelled`` stream event (only a webhook), so clients must retrieve to learn why.

Background streams start ``queued``; foreground ones start ``in_progress`` and their first
text delta comes ``first_token_s`` after creation. Web searches (when offered) run between
the reasoning and the first token, each with its ``response.web_search_call.*`` events.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator

from sandbox.openai_faults import DroppedConnection
from sandbox.openai_render import (
    has_message,
    message_index,
    message_item,
    reasoning_item,
    render,
    text_part,
    web_search_item,
)
from sandbox.openai_responses import JSON, ResponseRecord, derived_id

_MAX_DELTAS = 40
Timed = tuple[float, JSON]


def stream_events(record: ResponseRecord) -> list[JSON]:
    """All events of the response in order, with ``sequence_number`` starting at 0."""
    return [event for _, event in timed_events(record)]


def timed_events(record: ResponseRecord) -> list[Timed]:
    """Events paired with their offsets (seconds after creation)."""
    first = "queued" if record.background else "in_progress"
    timed: list[Timed] = [(0.0, _lifecycle("response.created", record, first))]
    if record.background:
        timed.append((0.0, _lifecycle("response.queued", record, "queued")))
    timed.append((record.queue_s, _lifecycle("response.in_progress", record, "in_progress")))
    outcome = record.scenario.outcome
    if outcome != "failed":
        timed += _reasoning_events(record) + _search_events(record) + _message_events(record)
    timed.append((record.duration_s, _lifecycle(f"response.{outcome}", record, outcome)))
    for number, (_, event) in enumerate(timed):
        event["sequence_number"] = number
    return timed


def _lifecycle(kind: str, record: ResponseRecord, status: str) -> JSON:
    return {"type": kind, "response": render(record, status)}


def _reasoning_events(record: ResponseRecord) -> list[Timed]:
    start = record.queue_s
    return [
        (start, _item_event("added", 0, reasoning_item(record, "in_progress"))),
        (start, _item_event("done", 0, reasoning_item(record, "completed"))),
    ]


def _search_events(record: ResponseRecord) -> list[Timed]:
    """Each search starts and ends within an even share of the time before the first token."""
    count = record.web_searches
    step = (record.first_token_s - record.queue_s) / max(1, count)
    events: list[Timed] = []
    for number in range(count):
        index, begin = 1 + number, record.queue_s + step * number
        item = web_search_item(record, number, "in_progress")
        ref = {"output_index": index, "item_id": item["id"]}
        events += [
            (begin, _item_event("added", index, item)),
            (begin, {"type": "response.web_search_call.in_progress", **ref}),
            (begin, {"type": "response.web_search_call.searching", **ref}),
            (begin + step / 2, {"type": "response.web_search_call.completed", **ref}),
            (
                begin + step / 2,
                _item_event("done", index, web_search_item(record, number, "completed")),
            ),
        ]
    return events


def _message_events(record: ResponseRecord) -> list[Timed]:
    """The message with text deltas from the first token until the end."""
    if not has_message(record):
        return []
    start, end, index = record.first_token_s, record.duration_s, message_index(record)
    item_status = "incomplete" if record.scenario.outcome == "incomplete" else "completed"
    part = {"item_id": derived_id("msg_", record.id), "output_index": index, "content_index": 0}
    events: list[Timed] = [
        (start, _item_event("added", index, message_item(record, "in_progress", with_text=False))),
        (start, {"type": "response.content_part.added", **part, "part": text_part(record, True)}),
    ]
    chunks = _chunks(record.answer.text)
    for n, chunk in enumerate(chunks):
        at = start + (end - start) * n / len(chunks)
        events.append(
            (at, {"type": "response.output_text.delta", **part, "delta": chunk, "logprobs": []})
        )
    text = record.answer.text
    events += [
        (end, {"type": "response.output_text.done", **part, "text": text, "logprobs": []}),
        (end, {"type": "response.content_part.done", **part, "part": text_part(record)}),
        (end, _item_event("done", index, message_item(record, item_status))),
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
    *,
    drop_after: int | None = None,
    on_abort: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """Yield events after ``starting_after`` as their times come; stop early on cancel.

    ``drop_after`` cuts the connection after that many events (an injected fault).
    ``on_abort(sent)`` runs if the stream ends before its last event for any reason other
    than cancellation: the client went away, or the connection was cut.
    """
    sent, finished = 0, False
    try:
        for offset, event in timed_events(record):
            if starting_after is not None and event["sequence_number"] <= starting_after:
                continue
            if drop_after is not None and sent >= drop_after:
                raise DroppedConnection("sandbox fault: stream dropped")
            if not _wait_until(record, record.created_at + offset, clock):
                break
            yield encode(event)
            sent += 1
        finished = True
    finally:
        if not finished and on_abort is not None:
            on_abort(sent)


def _wait_until(record: ResponseRecord, due: float, clock: Callable[[], float]) -> bool:
    """Sleep until ``due``, woken early only by a cancel; ``False`` if the response was
    cancelled before then. (Hundreds of open streams each polling for a cancel took the
    stand-in's CPU from the workers it serves.)"""
    while True:
        cancelled = record.cancelled_at
        if cancelled is not None and cancelled < due:
            return False
        remaining = due - clock()
        if remaining <= 0:
            return True
        record.cancelled.wait(remaining)
