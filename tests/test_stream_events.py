"""The stream reader's events, read raw: what Errand reads of each is what the SDK gives."""

from __future__ import annotations

from openai.types.responses import Response

from worker.stream import Reading, take
from worker.stream_events import typed

RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "gpt-5",
    "output": [
        {
            "type": "web_search_call",
            "id": "ws_1",
            "status": "completed",
            "action": {"type": "search", "query": "tides"},
        },
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "High tide at noon.", "annotations": []}],
        },
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
}


def test_a_terminal_event_carries_the_sdks_response_and_ends_the_reading() -> None:
    reading = Reading(cursor=None)
    step = take(
        reading, typed({"type": "response.completed", "response": RESPONSE, "sequence_number": 9})
    )
    assert step is not None and step.terminal
    assert isinstance(step.response, Response)
    assert step.response.output_text == "High tide at noon."
    assert reading.cursor == 9


def test_text_deltas_and_unknown_events_move_the_cursor_and_keep_the_text() -> None:
    reading = Reading(cursor=None, text=[])
    delta = {
        "type": "response.output_text.delta",
        "output_index": 1,
        "delta": "High ",
        "item_id": "msg_1",
        "content_index": 0,
        "logprobs": [],
        "sequence_number": 4,
    }
    take(reading, typed(delta))
    take(reading, typed({"type": "response.something_new", "sequence_number": 5, "x": {"y": 1}}))
    assert reading.cursor == 5
    assert reading.text == ["High "]


def test_an_output_item_is_typed_for_the_plan() -> None:
    item = typed(
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": RESPONSE["output"][0],
            "sequence_number": 3,
        }
    )
    assert item.item.action.query == "tides"
