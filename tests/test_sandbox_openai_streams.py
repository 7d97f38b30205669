"""Streaming from the OpenAI stand-in as the real API does it, through the real SDK.

Background streams: ``response.created`` first (carrying the id), ``sequence_number`` on
every event, resumable with ``starting_after`` for a limited window, and only for responses
created with ``stream=true``. Foreground streams: text over the response's duration, and a
hang-up cancels; with ``store=false`` nothing is retrievable afterwards.
"""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from sandbox.openai_api import RunningSandbox
from tests.support.openai_sandbox import (
    MODEL,
    assert_matches,
    control,
    create,
    inspect,
    raw,
    snapshot,
    sse,
    wait_for,
)

pytest_plugins = ["tests.support.openai_fixtures"]  # server, sandbox, client, ...


def streamed(client: openai.OpenAI, text: str, **kwargs: Any) -> Any:
    return client.responses.create(model=MODEL, input=text, background=True, stream=True, **kwargs)


def test_stream_then_resume_after_sequence_number(client: openai.OpenAI) -> None:
    stream = streamed(client, "Stream it [sandbox: queue=0.1 duration=0.8 chars=600]")
    seen = []
    with stream:
        for event in stream:
            seen.append(event)
            if event.sequence_number == 6:
                break
    assert [e.type for e in seen[:3]] == [
        "response.created",
        "response.queued",
        "response.in_progress",
    ]
    assert [e.sequence_number for e in seen] == list(range(7))
    response_id = snapshot(seen[0]).id
    with client.responses.retrieve(response_id, stream=True, starting_after=6) as resumed:
        rest = list(resumed)
    assert [e.sequence_number for e in rest] == list(range(7, 7 + len(rest)))
    assert rest[-1].type == "response.completed"
    deltas = "".join(e.delta for e in seen + rest if e.type == "response.output_text.delta")
    assert deltas == client.responses.retrieve(response_id).output_text
    assert len(deltas) == 600


def test_stream_of_failed_response_ends_with_failed(client: openai.OpenAI) -> None:
    with streamed(client, "Fails [sandbox: duration=0.2 fail]") as stream:
        types = [event.type for event in stream]
    assert types[-1] == "response.failed"


def test_only_streamed_background_responses_can_be_streamed(
    strict_client: openai.OpenAI,
) -> None:
    polled = create(strict_client, "Polled [sandbox: duration=0.3]")
    with pytest.raises(openai.BadRequestError, match="not created with") as exc:
        strict_client.responses.retrieve(polled.id, stream=True)
    assert exc.value.param == "stream"


def test_resume_is_refused_after_the_window_so_clients_poll(
    strict_client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    control(sandbox, "config", {"stream_resume_window": 0.3})
    with streamed(strict_client, "Long [sandbox: duration=5]") as stream:
        response_id = snapshot(next(iter(stream))).id
    time.sleep(0.4)
    with pytest.raises(openai.BadRequestError, match="can no longer be streamed"):
        strict_client.responses.retrieve(response_id, stream=True, starting_after=0)
    assert strict_client.responses.retrieve(response_id).status == "in_progress"


def test_a_dropped_stream_resumes_from_its_cursor(
    strict_client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    control(sandbox, "faults", {"endpoint": "stream", "drop_after": 5})
    cursor, response_id = -1, ""
    stream = streamed(strict_client, "Dropped [sandbox: queue=0 duration=0.6 chars=300]")
    with pytest.raises(openai.APIConnectionError), stream:
        for event in stream:
            cursor = event.sequence_number
            response_id = response_id or snapshot(event).id
    assert cursor == 4
    with strict_client.responses.retrieve(response_id, stream=True, starting_after=4) as rest:
        events = list(rest)
    assert events[0].sequence_number == 5
    assert events[-1].type == "response.completed"
    assert inspect(sandbox, "stats")["calls"]["stream"] == 2


def test_a_stream_dropped_before_its_first_event_leaves_an_orphan(
    strict_client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    control(sandbox, "faults", {"endpoint": "stream", "drop_after": 0})
    with pytest.raises(openai.APIConnectionError):  # no headers: the create itself fails
        streamed(strict_client, "Lost [sandbox: duration=0.3]")
    stats = inspect(sandbox, "stats")
    assert (stats["made"], stats["unheard"], len(stats["orphans"])) == (1, 1, 1)


# -- foreground (non-background) --------------------------------------------------------------


def test_foreground_stream_sends_text_over_the_duration(
    client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    control(sandbox, "config", {"first_token_seconds": 0.3})
    started = time.monotonic()
    arrivals: dict[str, float] = {}
    with client.responses.create(
        model=MODEL, input="Live [sandbox: duration=0.8 chars=400]", stream=True
    ) as stream:
        events = []
        for event in stream:
            events.append(event)
            arrivals.setdefault(event.type, time.monotonic() - started)
    types = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert "response.queued" not in types
    assert snapshot(events[0]).status == "in_progress"
    assert types[-1] == "response.completed"
    assert arrivals["response.output_text.delta"] >= 0.3
    assert arrivals["response.completed"] >= 0.8
    assert client.responses.retrieve(snapshot(events[0]).id).status == "completed"


def test_foreground_without_store_is_gone_afterwards(strict_client: openai.OpenAI) -> None:
    with strict_client.responses.create(
        model=MODEL, input="Ephemeral [sandbox: duration=0.2]", stream=True, store=False
    ) as stream:
        events = list(stream)
    response_id = snapshot(events[0]).id
    assert snapshot(events[-1]).to_dict()["store"] is False
    with pytest.raises(openai.NotFoundError):
        strict_client.responses.retrieve(response_id)
    with pytest.raises(openai.NotFoundError):
        strict_client.responses.cancel(response_id)


def test_hanging_up_on_a_foreground_stream_cancels_it(
    client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    with client.responses.create(
        model=MODEL, input="Abandoned [sandbox: duration=3]", stream=True
    ) as stream:
        response_id = snapshot(next(iter(stream))).id
    deadline = time.monotonic() + 3
    while inspect(sandbox, "stats")["responses"][response_id]["status"] != "cancelled":
        assert time.monotonic() < deadline, "the hang-up was never noticed"
        time.sleep(0.1)
    assert inspect(sandbox, "stats")["cancelled"] == 1


def test_foreground_stored_responses_cannot_be_cancelled(strict_client: openai.OpenAI) -> None:
    done = strict_client.responses.create(model=MODEL, input="Quick [sandbox: duration=0.2]")
    with pytest.raises(openai.BadRequestError, match="background=true"):
        strict_client.responses.cancel(done.id)


# -- conformance with OpenAI's OpenAPI description ------------------------------------------------


@pytest.mark.parametrize("background", [True, False])
def test_stream_events_match_openapi_schema(sandbox: RunningSandbox, background: bool) -> None:
    body = {
        "model": MODEL,
        "input": "Events [sandbox: duration=0.3 queue=0.05 chars=300]",
        "background": background,
        "stream": True,
        "tools": [{"type": "web_search"}],
    }
    answer = raw(sandbox, "POST", "/responses", json=body)
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = sse(answer.text)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert "response.web_search_call.completed" in {e["type"] for e in events}
    assert_matches(events[-1], "ResponseCompletedEvent")
    for event in events:
        assert_matches(event, "ResponseStreamEvent")
    if background:
        resumed = raw(sandbox, "GET", f"/responses/{events[0]['response']['id']}?stream=true")
        assert sse(resumed.text) == events


def test_waiting_for_a_streamed_response_by_polling(client: openai.OpenAI) -> None:
    with streamed(client, "Poll me [sandbox: duration=0.3]") as stream:
        response_id = snapshot(next(iter(stream))).id
    assert wait_for(client, response_id).status == "completed"
