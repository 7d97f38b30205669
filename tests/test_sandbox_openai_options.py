"""Request options of the OpenAI stand-in, through the real ``openai`` SDK: the
Idempotency-Key (ignored unless configured), API keys, ``service_tier``,
``max_output_tokens``, ``previous_response_id`` with retention, and web search calls.
"""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from sandbox.openai_api import RunningSandbox
from tests.support.client import HTTP
from tests.support.openai_sandbox import API_KEY, MODEL, control, create, inspect, wait_for

pytest_plugins = ["tests.support.openai_fixtures"]  # server, sandbox, client, ...


def test_idempotency_key_is_ignored_by_default(
    client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    """OpenAI documents no idempotency for creates: a repeated key makes a second response."""
    key = {"Idempotency-Key": "errand-job-7"}
    first = create(client, "Once only", extra_headers=key)
    second = create(client, "Once only", extra_headers=key)
    assert second.id != first.id
    stats = inspect(sandbox, "stats")
    assert (stats["responses_created"], stats["duplicate_creates"]) == (2, 0)
    logged = inspect(sandbox, "requests", endpoint="create", header="idempotency-key")["data"]
    assert [entry["idempotency_key"] for entry in logged] == ["errand-job-7"] * 2


def test_idempotency_key_honoured_when_configured(
    client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    control(sandbox, "config", {"honour_idempotency_key": True})
    key = {"Idempotency-Key": "errand-job-7"}
    first = create(client, "Once only", extra_headers=key)
    second = create(client, "Once only", extra_headers=key)
    assert second.id == first.id
    stats = inspect(sandbox, "stats")
    assert (stats["responses_created"], stats["duplicate_creates"]) == (1, 1)
    assert stats["calls"]["create"] == 2
    assert stats["responses"][first.id]["create"] == 2


def test_missing_and_wrong_api_keys_are_401(sandbox: RunningSandbox) -> None:
    bare = HTTP.get(f"{sandbox.base_url}/responses/resp_x")
    assert bare.status_code == 401
    assert bare.json()["error"]["message"].startswith("You didn't provide an API key.")
    control(sandbox, "config", {"api_key": "sk-the-right-key-0000"})
    wrong = openai.OpenAI(base_url=sandbox.base_url, api_key=API_KEY, max_retries=0)
    with wrong, pytest.raises(openai.AuthenticationError) as exc:
        wrong.responses.create(model=MODEL, input="x", background=True)
    assert exc.value.code == "invalid_api_key"
    assert "sk-sandb***" in exc.value.message
    assert "cdef." in exc.value.message  # the key's tail, as the real API quotes it
    assert API_KEY not in exc.value.message
    assert inspect(sandbox, "stats")["made"] == 0


@pytest.mark.parametrize(
    ("asked", "used"),
    [
        (None, "default"),
        ("auto", "default"),
        ("default", "default"),
        ("flex", "flex"),
        ("priority", "priority"),
    ],
)
def test_service_tier_is_echoed_as_the_tier_used(
    client: openai.OpenAI, asked: Any, used: str
) -> None:
    options = {} if asked is None else {"service_tier": asked}
    created = create(client, "Tiered", **options)
    assert created.service_tier == used
    assert client.responses.retrieve(created.id).service_tier == used


def test_unknown_service_tier_is_400(strict_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        create(strict_client, "x", service_tier="turbo")
    assert (exc.value.param, exc.value.code) == ("service_tier", "invalid_value")


def test_max_output_tokens_ends_incomplete_with_partial_text(client: openai.OpenAI) -> None:
    """400 characters is 100 visible tokens and 200 reasoning; 250 leaves room for 50."""
    text = "Capped [sandbox: duration=0.4 queue=0 chars=400]"
    done = wait_for(client, create(client, text, max_output_tokens=250).id)
    full = wait_for(client, create(client, text).id)
    assert done.status == "incomplete"
    assert done.incomplete_details is not None
    assert done.incomplete_details.reason == "max_output_tokens"
    assert done.output_text == full.output_text[:200]
    assert done.usage is not None
    assert done.usage.output_tokens == 250
    assert done.usage.output_tokens_details.reasoning_tokens == 200
    starved = wait_for(client, create(client, text, max_output_tokens=100).id)
    assert (starved.status, starved.output_text) == ("incomplete", "")
    assert [item.type for item in starved.output] == ["reasoning"]


def test_max_output_tokens_below_minimum_is_400(strict_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        create(strict_client, "x", max_output_tokens=5)
    assert exc.value.code == "integer_below_min_value"


def test_previous_response_id_is_recorded_then_expires(
    client: openai.OpenAI, strict_client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    control(sandbox, "config", {"response_ttl": 1.0})
    first = create(client, "Turn one [sandbox: duration=0.2 queue=0]")
    second = create(client, "Turn two", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    [listed] = [r for r in inspect(sandbox, "responses")["data"] if r["id"] == second.id]
    assert listed["previous_response_id"] == first.id
    logged = inspect(sandbox, "requests", previous_response_id=first.id)["data"]
    assert [entry["response_id"] for entry in logged] == [second.id]
    time.sleep(1.1)
    with pytest.raises(openai.NotFoundError):
        strict_client.responses.retrieve(first.id)
    with pytest.raises(openai.BadRequestError, match=f"Previous response with id '{first.id}'"):
        create(strict_client, "Turn three", previous_response_id=first.id)


def test_web_search_calls_are_listed_for_cost(client: openai.OpenAI) -> None:
    created = create(
        client, "Searched [sandbox: duration=0.3 queue=0]", tools=[{"type": "web_search"}]
    )
    done = wait_for(client, created.id)
    searches = [item for item in done.output if item.type == "web_search_call"]
    assert 1 <= len(searches) <= 4
    assert [item.type for item in done.output] == ["reasoning"] + ["web_search_call"] * len(
        searches
    ) + ["message"]
    again = client.responses.retrieve(created.id)
    assert [item.id for item in again.output] == [item.id for item in done.output]
    plain = wait_for(client, create(client, "Not searched [sandbox: duration=0.2]").id)
    assert not [item for item in plain.output if item.type == "web_search_call"]
