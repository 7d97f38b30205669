"""The OpenAI Responses stand-in, driven over HTTP by the real ``openai`` SDK.

The stand-in is only useful if code that works against it also works against OpenAI, so these
tests talk to it exactly as Errand does (the SDK, unmodified) and check what it returns against
OpenAI's own OpenAPI description.
"""

from __future__ import annotations

import copy
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import openai
import pytest
import yaml
from openai.types.responses import Response
from openai.types.webhooks import ResponseCancelledWebhookEvent, ResponseCompletedWebhookEvent
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.serving import WSGIRequestHandler, make_server

from sandbox.openai_api import RunningSandbox, SandboxOpenAISettings, start_in_thread
from sandbox.openai_content import research_answer
from sandbox.openai_scenario import Scenario, input_text, parse_directives, strip_directives

SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "reference" / "openai-openapi.yaml"
SPEC_URI = "urn:openai:openapi"
WEBHOOK_SECRET = "whsec_c2FuZGJveC13ZWJob29rLXNlY3JldC1mb3ItdGVzdHM="
MODEL = "o3-deep-research"
FAST = SandboxOpenAISettings(duration_min=0.6, duration_max=0.6, queue_seconds=0.2)


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    running = start_in_thread(settings=FAST)
    yield running
    running.stop()


@pytest.fixture
def sandbox(server: RunningSandbox) -> Iterator[RunningSandbox]:
    """The shared server, reset before each test so counts and faults start clean."""
    control(server, "reset")
    yield server


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=sandbox.base_url, api_key="sk-sandbox") as sdk:
        yield sdk


@pytest.fixture
def strict_client(sandbox: RunningSandbox) -> Iterator[openai.OpenAI]:
    """No retries, so injected faults reach the test."""
    with openai.OpenAI(base_url=sandbox.base_url, api_key="sk-sandbox", max_retries=0) as sdk:
        yield sdk


def control(server: RunningSandbox, path: str, body: Any = None) -> Any:
    """POST to the ``/_sandbox`` control API."""
    answer = httpx.post(f"{server.url}/_sandbox/{path}", json=body)
    answer.raise_for_status()
    return answer.json()


def inspect(server: RunningSandbox, path: str) -> Any:
    """GET from the ``/_sandbox`` control API."""
    answer = httpx.get(f"{server.url}/_sandbox/{path}")
    answer.raise_for_status()
    return answer.json()


def create(client: openai.OpenAI, text: str, **kwargs: Any) -> Response:
    created: Response = client.responses.create(model=MODEL, input=text, background=True, **kwargs)
    return created


def wait_for(client: openai.OpenAI, response_id: str, timeout: float = 5.0) -> Response:
    """Poll until terminal, as Errand's worker does."""
    deadline = time.monotonic() + timeout
    while True:
        found = client.responses.retrieve(response_id)
        if found.status not in ("queued", "in_progress") or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


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


def test_idempotency_key_returns_the_same_response(
    client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    key = {"Idempotency-Key": "errand-job-7"}
    first = create(client, "Once only", extra_headers=key)
    second = create(client, "Once only", extra_headers=key)
    assert second.id == first.id
    stats = inspect(sandbox, "stats")
    assert (stats["responses_created"], stats["duplicate_creates"]) == (1, 1)
    assert stats["calls"]["create"] == 2
    assert stats["responses"][first.id]["create"] == 2


# -- fault injection ------------------------------------------------------------------------------


def test_500_then_success_is_retried_by_the_sdk(
    client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    control(sandbox, "faults", {"endpoint": "create", "status": 500, "count": 1})
    created = create(client, "Retry me")
    assert created.status == "queued"
    stats = inspect(sandbox, "stats")
    assert stats["calls"]["create"] == 2
    assert stats["responses_created"] == 1


def test_429_carries_retry_after(strict_client: openai.OpenAI, sandbox: RunningSandbox) -> None:
    created = create(strict_client, "Busy")
    control(sandbox, "faults", {"endpoint": "retrieve", "status": 429, "retry_after": 7})
    with pytest.raises(openai.RateLimitError) as exc:
        strict_client.responses.retrieve(created.id)
    assert exc.value.response.headers["retry-after"] == "7"
    assert exc.value.code == "rate_limit_exceeded"
    assert strict_client.responses.retrieve(created.id).id == created.id  # fault used up


def test_503_and_delay_faults(strict_client: openai.OpenAI, sandbox: RunningSandbox) -> None:
    created = create(strict_client, "Slowly")
    control(sandbox, "faults", [{"endpoint": "cancel", "status": 503, "count": 2}])
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            strict_client.responses.cancel(created.id)
    control(sandbox, "faults", {"endpoint": "retrieve", "delay": 0.3})
    started = time.monotonic()
    assert strict_client.responses.retrieve(created.id).id == created.id
    assert time.monotonic() - started >= 0.3
    assert inspect(sandbox, "stats")["responses"][created.id]["cancel"] == 2


def test_config_sets_defaults_and_rejects_unknown_keys(
    client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    config = control(sandbox, "config", {"duration_min": 0.1, "duration_max": 0.1})
    assert config["duration_min"] == 0.1
    created = create(client, "Configured")
    assert wait_for(client, created.id, timeout=2).status == "completed"
    answer = httpx.post(f"{sandbox.url}/_sandbox/config", json={"nope": 1})
    assert answer.status_code == 400


# -- streaming ------------------------------------------------------------------------------------


def test_stream_then_resume_after_sequence_number(client: openai.OpenAI) -> None:
    stream = client.responses.create(
        model=MODEL,
        input="Stream it [sandbox: queue=0.1 duration=0.8 chars=600]",
        background=True,
        stream=True,
    )
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
    response_id = seen[0].response.id  # type: ignore[union-attr]
    with client.responses.retrieve(response_id, stream=True, starting_after=6) as resumed:
        rest = list(resumed)
    assert [e.sequence_number for e in rest] == list(range(7, 7 + len(rest)))
    assert rest[-1].type == "response.completed"
    deltas = "".join(e.delta for e in seen + rest if e.type == "response.output_text.delta")
    assert deltas == client.responses.retrieve(response_id).output_text
    assert len(deltas) == 600


def test_stream_of_failed_response_ends_with_failed(client: openai.OpenAI) -> None:
    created = create(client, "Fails [sandbox: duration=0.2 fail]")
    with client.responses.retrieve(created.id, stream=True) as stream:
        types = [event.type for event in stream]
    assert types[-1] == "response.failed"


# -- webhooks -------------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class Receiver:
    """A tiny webhook endpoint that records deliveries and can refuse the first few."""

    def __init__(self, refuse: int = 0) -> None:
        self.deliveries: queue.Queue[tuple[bytes, dict[str, str]]] = queue.Queue()
        self.refuse = refuse
        self.server = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler
        )
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self.server.port}/hooks/openai"

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size)
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k[:5] == "HTTP_"
        }
        self.deliveries.put((body, headers))
        status = "500 Internal Server Error" if self.refuse > 0 else "200 OK"
        self.refuse -= 1
        start_response(status, [("Content-Type", "text/plain")])
        return [b"ok"]

    def next(self, timeout: float = 5.0) -> tuple[bytes, dict[str, str]]:
        return self.deliveries.get(timeout=timeout)


@pytest.fixture
def receiver(sandbox: RunningSandbox) -> Iterator[Receiver]:
    hooks = Receiver()
    hooks.thread.start()
    control(sandbox, "config", {"webhook_url": hooks.url, "webhook_secret": WEBHOOK_SECRET})
    yield hooks
    hooks.server.shutdown()
    hooks.server.server_close()


def test_completion_webhook_is_accepted_by_sdk_unwrap(
    client: openai.OpenAI, receiver: Receiver
) -> None:
    created = create(client, "Notify me [sandbox: duration=0.3 queue=0.1]")
    body, headers = receiver.next()
    event = client.webhooks.unwrap(body, headers, secret=WEBHOOK_SECRET)
    assert isinstance(event, ResponseCompletedWebhookEvent)
    assert event.data.id == created.id
    assert client.responses.retrieve(created.id).status == "completed"
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.unwrap(body + b" ", headers, secret=WEBHOOK_SECRET)


def test_cancel_webhook_and_retry_keeps_webhook_id(
    client: openai.OpenAI, receiver: Receiver, sandbox: RunningSandbox
) -> None:
    receiver.refuse = 1
    created = create(client, "Stop me [sandbox: duration=30]")
    client.responses.cancel(created.id)
    _, first_headers = receiver.next()
    body, headers = receiver.next()
    assert headers["webhook-id"] == first_headers["webhook-id"]
    event = client.webhooks.unwrap(body, headers, secret=WEBHOOK_SECRET)
    assert isinstance(event, ResponseCancelledWebhookEvent)
    assert event.data.id == created.id
    assert inspect(sandbox, "stats")["webhooks"] == {"delivered": 1, "failed": 1}


# -- conformance with OpenAI's OpenAPI description ------------------------------------------------


def _null_for_nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` means nothing to JSON Schema 2020-12; spell it out."""
    if isinstance(node, list):
        return [_null_for_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _null_for_nullable(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def _registry() -> Registry:
    if not SPEC_PATH.exists():
        pytest.skip(f"OpenAI OpenAPI description not found at {SPEC_PATH}")
    spec = yaml.load(SPEC_PATH.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert spec["openapi"].startswith("3.1")  # 3.1 schemas are JSON Schema 2020-12
    resource = Resource.from_contents(_null_for_nullable(spec), default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(SPEC_URI, resource)
    return registry


def assert_matches(instance: Any, schema_name: str) -> None:
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    validator = jsonschema.Draft202012Validator(schema, registry=_registry())
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors)


def _raw(server: RunningSandbox, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{server.base_url}{path}", **kwargs)


def _raw_create(server: RunningSandbox, text: str) -> dict[str, Any]:
    body = {
        "model": MODEL,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": text}]}],
        "instructions": "Cite your sources.",
        "background": True,
        "metadata": {"job_id": "j"},
        "tools": [{"type": "web_search_preview"}],
        "reasoning": {"effort": "medium", "summary": "auto"},
    }
    answer = _raw(server, "POST", "/responses", json=body)
    assert answer.status_code == 200
    result: dict[str, Any] = answer.json()
    return result


def _raw_wait(server: RunningSandbox, response_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        found: dict[str, Any] = _raw(server, "GET", f"/responses/{response_id}").json()
        if found["status"] not in ("queued", "in_progress") or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_response_objects_match_openapi_schema(sandbox: RunningSandbox) -> None:
    _registry()
    queued = _raw_create(sandbox, "Schema check [sandbox: queue=0.1 duration=2.5 chars=800]")
    failed_id = _raw_create(sandbox, "x [sandbox: duration=0.2 fail]")["id"]
    incomplete_id = _raw_create(sandbox, "x [sandbox: duration=0.2 incomplete]")["id"]
    to_cancel = _raw_create(sandbox, "x [sandbox: duration=30]")["id"]
    time.sleep(0.3)
    running = _raw(sandbox, "GET", f"/responses/{queued['id']}").json()
    cancelled = _raw(sandbox, "POST", f"/responses/{to_cancel}/cancel").json()
    failed = _raw_wait(sandbox, failed_id)
    incomplete = _raw_wait(sandbox, incomplete_id)
    completed = _raw_wait(sandbox, queued["id"])
    objects = [queued, running, completed, failed, incomplete, cancelled]
    statuses = ["queued", "in_progress", "completed", "failed", "incomplete", "cancelled"]
    assert [o["status"] for o in objects] == statuses
    for obj in objects:
        assert_matches(obj, "Response")
    broken = copy.deepcopy(completed)
    del broken["output"][1]["content"][0]["logprobs"]
    with pytest.raises(AssertionError, match="output"):  # the check is not vacuous
        assert_matches(broken, "Response")


def test_error_bodies_match_openapi_schema(sandbox: RunningSandbox) -> None:
    _registry()
    missing = _raw(sandbox, "GET", "/responses/resp_missing")
    assert missing.status_code == 404
    assert_matches(missing.json(), "ErrorResponse")
    bad = _raw(sandbox, "POST", "/responses", json={"input": "no model", "background": True})
    assert bad.status_code == 400
    assert_matches(bad.json(), "ErrorResponse")


def test_stream_events_match_openapi_schema(sandbox: RunningSandbox) -> None:
    _registry()
    created = _raw_create(sandbox, "Events [sandbox: duration=0.2 queue=0.05 chars=300]")
    _raw_wait(sandbox, created["id"])
    answer = _raw(sandbox, "GET", f"/responses/{created['id']}", params={"stream": "true"})
    assert answer.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in answer.text.split("\n\n") if f]
    events = []
    for frame in frames:
        kind, data = frame.split("\n", 1)
        event = json.loads(data.removeprefix("data: "))
        assert kind == f"event: {event['type']}"
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert_matches(events[-1], "ResponseCompletedEvent")
    for event in events:
        assert_matches(event, "ResponseStreamEvent")


def test_webhook_body_matches_openapi_schema(client: openai.OpenAI, receiver: Receiver) -> None:
    _registry()
    create(client, "Hook [sandbox: duration=0.2 queue=0]")
    body, _ = receiver.next()
    assert_matches(json.loads(body), "WebhookResponseCompleted")


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
            health = httpx.get(base_url.removesuffix("/v1") + "/_sandbox/health")
            assert health.json() == {"ok": True}
        finally:
            process.terminate()
            process.wait(timeout=10)
