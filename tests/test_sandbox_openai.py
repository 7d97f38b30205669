"""The OpenAI Responses stand-in, driven over HTTP by the real ``openai`` SDK: lifecycle,
scenario directives, and conformance with OpenAI's OpenAPI description.

The stand-in is only useful if code that works against it also works against OpenAI, so these
tests talk to it exactly as Errand does (the SDK, unmodified) and check what it returns against
OpenAI's own OpenAPI description. Request options, faults, streams and batches have modules
of their own (``test_sandbox_openai_*.py``).
"""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from sandbox.openai_api import RunningSandbox
from sandbox.openai_content import research_answer
from sandbox.openai_scenario import Scenario, input_text, parse_directives, strip_directives
from tests.support.client import HTTP
from tests.support.openai_sandbox import (
    MODEL,
    assert_matches,
    control,
    create,
    inspect,
    raw,
    wait_for,
)

pytest_plugins = ["tests.support.openai_fixtures"]  # server, sandbox, client, ...


# -- directive grammar and content ---------------------------------------------------------------


def test_directives_parse_keys_flags_and_ignore_junk() -> None:
    text = "Heat pumps? [sandbox: duration=5 queue=1.5, chars=20000 bogus=1 duration=x]"
    assert parse_directives(text) == Scenario(duration=5.0, queue=1.5, chars=20000)
    assert parse_directives("[SANDBOX: fail]").outcome == "failed"
    assert parse_directives("[sandbox: fail=rate_limit_exceeded]").error_code == (
        "rate_limit_exceeded"
    )
    incomplete = parse_directives("[sandbox: incomplete=content_filter]")
    assert (incomplete.outcome, incomplete.incomplete_reason) == ("incomplete", "content_filter")
    assert parse_directives("[sandbox: slow]").resolved_duration(1.0) == 600.0
    assert parse_directives("[sandbox: slow duration=2]").resolved_duration(1.0) == 2.0
    assert strip_directives("Heat pumps [sandbox: fail] in winter") == "Heat pumps in winter"


def test_input_text_flattens_messages_and_parts() -> None:
    value = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "input_text", "text": "[sandbox: fail] why?"}]},
    ]
    assert input_text(value) == "be brief\n[sandbox: fail] why?"


@pytest.mark.parametrize("chars", [1, 120, 2400, 20_000])
def test_answer_length_is_exact_and_citations_point_at_links(chars: int) -> None:
    answer = research_answer("How do heat pumps perform in cold climates?", chars)
    assert len(answer.text) == chars
    for citation in answer.citations:
        span = answer.text[citation.start_index : citation.end_index]
        assert span == f"[{citation.title}]({citation.url})"
        assert citation.url.startswith("https://example.org/")


def test_vary_words_each_response_its_own_way() -> None:
    """As a model asked again does: a restarted answer need not begin as the first did."""
    assert parse_directives("[sandbox: duration=3 vary]").vary
    first, again = (research_answer("Tides", variant=v).text for v in ("resp_1", "resp_2"))
    assert first != again and first[:40] != again[:40]


def test_answer_is_deterministic_markdown() -> None:
    first = research_answer("Lithium supply chains")
    assert first == research_answer("Lithium supply chains")
    assert first.text.startswith("# ")
    assert "\n- " in first.text
    assert "## Sources\n\n1. [" in first.text
    assert first.citations


# -- lifecycle through the SDK ------------------------------------------------------------------


def test_background_lifecycle_queued_in_progress_completed(client: openai.OpenAI) -> None:
    created = create(client, "Small modular reactors [sandbox: queue=0.1 duration=3]")
    assert created.status == "queued"
    assert created.id.startswith("resp_")
    time.sleep(0.35)
    assert client.responses.retrieve(created.id).status == "in_progress"
    done = wait_for(client, created.id)
    assert done.status == "completed"
    assert done.output_text.startswith("# Research brief: Small modular reactors")
    assert done.completed_at is not None
    assert done.usage is not None
    assert done.usage.total_tokens == done.usage.input_tokens + done.usage.output_tokens
    message = next(item for item in done.output if item.type == "message")
    annotations = message.content[0].annotations  # type: ignore[union-attr]
    assert annotations
    assert all(a.type == "url_citation" for a in annotations)


def test_request_fields_are_recorded_and_echoed(
    client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    created = create(
        client,
        "Ocean acidification",
        metadata={"job_id": "job-42"},
        instructions="Cite sources.",
        tools=[{"type": "web_search_preview"}],
    )
    assert created.metadata == {"job_id": "job-42"}
    assert created.instructions == "Cite sources."
    assert created.model == MODEL
    assert [tool.type for tool in created.tools] == ["web_search_preview"]
    listed = inspect(sandbox, "responses?job_id=job-42")["data"]
    assert [item["id"] for item in listed] == [created.id]
    assert inspect(sandbox, "responses?metadata.job_id=other")["data"] == []


def test_chars_directive_sets_output_length(client: openai.OpenAI) -> None:
    created = create(client, "Long report [sandbox: duration=0.2 queue=0 chars=20000]")
    assert len(wait_for(client, created.id).output_text) == 20_000


def test_foreground_create_blocks_until_done(client: openai.OpenAI) -> None:
    done = client.responses.create(model=MODEL, input="Quick one [sandbox: duration=0.2]")
    assert done.status == "completed"
    assert done.output_text


def test_fail_directive(client: openai.OpenAI) -> None:
    created = create(client, "Doomed [sandbox: duration=0.3 fail]")
    failed = wait_for(client, created.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "server_error"
    assert failed.output_text == ""


@pytest.mark.parametrize("directive", ["incomplete", "incomplete=content_filter"])
def test_incomplete_directive(client: openai.OpenAI, directive: str) -> None:
    created = create(client, f"Truncated [sandbox: duration=0.3 {directive}]")
    incomplete = wait_for(client, created.id)
    assert incomplete.status == "incomplete"
    assert incomplete.incomplete_details is not None
    expected = "content_filter" if "=" in directive else "max_output_tokens"
    assert incomplete.incomplete_details.reason == expected
    assert incomplete.output_text  # partial text survives


def test_cancel_running_is_idempotent(client: openai.OpenAI, sandbox: RunningSandbox) -> None:
    created = create(client, "Long haul [sandbox: duration=30]")
    first = client.responses.cancel(created.id)
    again = client.responses.cancel(created.id)
    assert (first.status, again.status) == ("cancelled", "cancelled")
    assert first.id == again.id == created.id
    assert client.responses.retrieve(created.id).status == "cancelled"
    stats = inspect(sandbox, "stats")["responses"][created.id]
    assert (stats["cancel"], stats["status"]) == (2, "cancelled")


def test_cancel_completed_is_rejected_like_openai(client: openai.OpenAI) -> None:
    created = create(client, "Fast [sandbox: duration=0.2 queue=0]")
    wait_for(client, created.id)
    with pytest.raises(openai.BadRequestError, match="Cannot cancel a completed response") as exc:
        client.responses.cancel(created.id)
    assert exc.value.body == {
        "message": "Cannot cancel a completed response.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_cancel_failed_is_rejected(client: openai.OpenAI) -> None:
    created = create(client, "Fails [sandbox: duration=0.2 fail]")
    wait_for(client, created.id)
    with pytest.raises(openai.BadRequestError, match="Cannot cancel a failed response"):
        client.responses.cancel(created.id)


def test_unknown_id_is_404(strict_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="resp_nope"):
        strict_client.responses.retrieve("resp_nope")
    with pytest.raises(openai.NotFoundError):
        strict_client.responses.cancel("resp_nope")


def test_background_without_store_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        create(client, "Nope", store=False)
    assert isinstance(exc.value.body, dict)
    assert exc.value.body["param"] == "background"


def test_non_string_metadata_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match=r"metadata\.job_id"):
        create(client, "Nope", metadata={"job_id": 7})


def test_config_sets_defaults_and_rejects_unknown_keys(
    client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    config = control(sandbox, "config", {"duration_min": 0.1, "duration_max": 0.1})
    assert config["duration_min"] == 0.1
    created = create(client, "Configured")
    assert wait_for(client, created.id, timeout=2).status == "completed"
    for bad in ({"nope": 1}, {"rpm_limit": 0}, {"honour_idempotency_key": "maybe"}):
        assert HTTP.post(f"{sandbox.url}/_sandbox/config", json=bad).status_code == 400


# -- conformance with OpenAI's OpenAPI description ------------------------------------------------


def _raw_create(server: RunningSandbox, text: str, **extra: Any) -> dict[str, Any]:
    body = {
        "model": MODEL,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": text}]}],
        "instructions": "Cite your sources.",
        "background": True,
        "metadata": {"job_id": "j"},
        "tools": [{"type": "web_search_preview"}],
        "reasoning": {"effort": "medium", "summary": "auto"},
        **extra,
    }
    answer = raw(server, "POST", "/responses", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _raw_wait(server: RunningSandbox, response_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        found: dict[str, Any] = raw(server, "GET", f"/responses/{response_id}").json()
        if found["status"] not in ("queued", "in_progress") or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_response_objects_match_openapi_schema(sandbox: RunningSandbox) -> None:
    # Read while running before the others are made: on a busy machine their creates
    # alone took longer than a short response runs.
    queued = _raw_create(sandbox, "Schema check [sandbox: queue=0.1 duration=6 chars=800]")
    time.sleep(0.3)
    running = raw(sandbox, "GET", f"/responses/{queued['id']}").json()
    failed_id = _raw_create(sandbox, "x [sandbox: duration=0.2 fail]")["id"]
    incomplete_id = _raw_create(sandbox, "x [sandbox: duration=0.2 incomplete]")["id"]
    capped_id = _raw_create(sandbox, "x [sandbox: duration=0.2]", max_output_tokens=100)["id"]
    to_cancel = _raw_create(sandbox, "x [sandbox: duration=30]", service_tier="flex")["id"]
    cancelled = raw(sandbox, "POST", f"/responses/{to_cancel}/cancel").json()
    failed = _raw_wait(sandbox, failed_id)
    incomplete = _raw_wait(sandbox, incomplete_id)
    capped = _raw_wait(sandbox, capped_id)
    completed = _raw_wait(sandbox, queued["id"])
    objects = [queued, running, completed, failed, incomplete, capped, cancelled]
    statuses = ["queued", "in_progress", "completed", "failed", "incomplete", "incomplete"]
    assert [o["status"] for o in objects] == [*statuses, "cancelled"]
    for obj in objects:
        assert_matches(obj, "Response")
    broken = copy.deepcopy(completed)
    del broken["output"][-1]["content"][0]["logprobs"]
    with pytest.raises(AssertionError, match="output"):  # the check is not vacuous
        assert_matches(broken, "Response")


def test_error_bodies_match_openapi_schema(sandbox: RunningSandbox) -> None:
    missing = raw(sandbox, "GET", "/responses/resp_missing")
    assert missing.status_code == 404
    assert_matches(missing.json(), "ErrorResponse")
    bad = raw(sandbox, "POST", "/responses", json={"input": "no model", "background": True})
    assert bad.status_code == 400
    assert_matches(bad.json(), "ErrorResponse")
    unauthorised = HTTP.get(f"{sandbox.base_url}/responses/resp_x")
    assert_matches(unauthorised.json(), "ErrorResponse")


# -- running as a separate process ----------------------------------------------------------------


def test_command_line_entry_point_serves() -> None:
    command = [sys.executable, "-m", "sandbox.openai_api", "--port", "0"]
    root = Path(__file__).resolve().parents[1]
    with subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            base_url = line.split()[-1]
            assert base_url.startswith("http://127.0.0.1:")
            health = HTTP.get(base_url.removesuffix("/v1") + "/_sandbox/health")
            assert health.json() == {"ok": True}
        finally:
            process.terminate()
            process.wait(timeout=10)
