"""The OpenAI stand-in's faults, error classes, rate limits, per-job stats and request log,
seen through the real ``openai`` SDK.

The stand-in must be no kinder than the real service: a create can be made and still
answered with an error, a connection can be cut after the work is done, and every error
class carries the body and headers the real API sends.
"""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from sandbox.openai_api import RunningSandbox
from tests.support.client import HTTP
from tests.support.openai_sandbox import (
    API_KEY,
    MODEL,
    WEBHOOK_SECRET,
    Receiver,
    assert_matches,
    control,
    create,
    inspect,
    raw,
    wait_for,
)

pytest_plugins = ["tests.support.openai_fixtures"]  # server, sandbox, client, ...


def fault(server: RunningSandbox, **spec: Any) -> None:
    control(server, "faults", spec)


# -- fault injection by status and class ----------------------------------------------------------


def test_500_then_success_is_retried_by_the_sdk(
    client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    fault(sandbox, endpoint="create", status=500, count=1)
    created = create(client, "Retry me")
    assert created.status == "queued"
    stats = inspect(sandbox, "stats")
    assert stats["calls"]["create"] == 2
    assert stats["responses_created"] == 1


def test_429_carries_retry_after(strict_client: openai.OpenAI, sandbox: RunningSandbox) -> None:
    created = create(strict_client, "Busy")
    fault(sandbox, endpoint="retrieve", status=429, retry_after=7)
    with pytest.raises(openai.RateLimitError) as exc:
        strict_client.responses.retrieve(created.id)
    assert exc.value.response.headers["retry-after"] == "7"
    assert exc.value.response.headers["x-ratelimit-limit-requests"] == "10000"
    assert exc.value.code == "rate_limit_exceeded"
    assert strict_client.responses.retrieve(created.id).id == created.id  # fault used up


def test_503_and_delay_faults(strict_client: openai.OpenAI, sandbox: RunningSandbox) -> None:
    created = create(strict_client, "Slowly")
    control(sandbox, "faults", [{"endpoint": "cancel", "status": 503, "count": 2}])
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            strict_client.responses.cancel(created.id)
    fault(sandbox, endpoint="retrieve", delay=0.3)
    started = time.monotonic()
    assert strict_client.responses.retrieve(created.id).id == created.id
    assert time.monotonic() - started >= 0.3
    assert inspect(sandbox, "stats")["responses"][created.id]["cancel"] == 2


_CLASSES = [
    ("invalid_request", openai.BadRequestError, 400, "unsupported_parameter"),
    ("invalid_api_key", openai.AuthenticationError, 401, "invalid_api_key"),
    ("permission", openai.PermissionDeniedError, 403, None),
    ("project_model_access", openai.PermissionDeniedError, 403, "model_not_found"),
    ("model_not_found", openai.NotFoundError, 404, "model_not_found"),
    ("rate_limit", openai.RateLimitError, 429, "rate_limit_exceeded"),
    ("insufficient_quota", openai.RateLimitError, 429, "insufficient_quota"),
    ("resource_unavailable", openai.RateLimitError, 429, "resource_unavailable"),
    ("server_error", openai.InternalServerError, 500, None),
    ("overloaded", openai.InternalServerError, 503, None),
]


@pytest.mark.parametrize(("error", "raised", "status", "code"), _CLASSES)
def test_error_classes_reach_the_sdk_as_its_exceptions(
    strict_client: openai.OpenAI,
    sandbox: RunningSandbox,
    error: str,
    raised: type[openai.APIStatusError],
    status: int,
    code: str | None,
) -> None:
    fault(sandbox, endpoint="create", error=error)
    with pytest.raises(raised) as exc:
        create(strict_client, "Refused")
    assert (exc.value.status_code, exc.value.code) == (status, code)
    assert exc.value.request_id is not None and exc.value.request_id.startswith("req_")
    assert_matches({"error": exc.value.body}, "ErrorResponse")
    assert inspect(sandbox, "stats")["made"] == 0


def test_error_messages_quote_the_key_model_and_request_id(
    strict_client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    fault(sandbox, endpoint="create", error="invalid_api_key")
    fault(sandbox, endpoint="create", status=404)
    with pytest.raises(openai.AuthenticationError, match=r"sk-sandb\*+cdef\."):
        create(strict_client, "x")
    with pytest.raises(openai.NotFoundError, match=f"The model `{MODEL}` does not exist"):
        create(strict_client, "x")
    fault(sandbox, endpoint="create", status=500)
    with pytest.raises(openai.InternalServerError) as exc:
        create(strict_client, "x")
    assert f"request ID {exc.value.request_id} " in exc.value.message


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_answer_like_cloudflare(sandbox: RunningSandbox, status: int) -> None:
    """Not schema-conformant, because the real ones are not: an integer code, or HTML."""
    fault(sandbox, endpoint="retrieve", status=status)
    fault(sandbox, endpoint="retrieve", status=status, html=True)
    as_json = raw(sandbox, "GET", "/responses/resp_x")
    assert as_json.status_code == status
    assert as_json.json()["error"]["code"] == status
    assert as_json.json()["error"]["type"].startswith("cf_")
    as_html = raw(sandbox, "GET", "/responses/resp_x")
    assert as_html.headers["content-type"].startswith("text/html")
    assert f"Error code {status}" in as_html.text


def test_fault_specs_are_validated(sandbox: RunningSandbox) -> None:
    bad = [
        {"endpoint": "nope", "status": 500},
        {"endpoint": "create", "status": 200},
        {"endpoint": "create", "error": "bogus"},
        {"endpoint": "create", "status": 500, "colour": "red"},
        {"endpoint": "create", "drop_after": 2},
        {"endpoint": "create", "status": 500, "probability": 0},
        {"endpoint": "create"},
    ]
    for spec in bad:
        answer = HTTP.post(f"{sandbox.url}/_sandbox/faults", json=spec)
        assert answer.status_code == 400, spec
    fault(sandbox, endpoint="create", status=500, seconds=60)
    assert len(inspect(sandbox, "faults")["faults_pending"]) == 1
    assert HTTP.delete(f"{sandbox.url}/_sandbox/faults").json() == {"faults_pending": []}


# -- made, but answered with an error -------------------------------------------------------------


def test_made_but_500_create_runs_bills_and_fires_its_webhook(
    strict_client: openai.OpenAI, sandbox: RunningSandbox, receiver: Receiver
) -> None:
    fault(sandbox, endpoint="create", status=500, made=True)
    with pytest.raises(openai.InternalServerError):
        create(
            strict_client, "Made anyway [sandbox: duration=0.3 queue=0]", metadata={"job_id": "j1"}
        )
    [made] = inspect(sandbox, "responses", job_id="j1")["data"]
    body, headers = receiver.next()
    event = strict_client.webhooks.unwrap(body, headers, secret=WEBHOOK_SECRET)
    assert event.type == "response.completed"
    assert event.data.id == made["id"]
    job = inspect(sandbox, "stats")["jobs"]["j1"]
    assert (job["made"], job["unheard"], job["orphans"]) == (1, 1, [made["id"]])
    assert raw(sandbox, "GET", f"/responses/{made['id']}").json()["usage"]["output_tokens"] > 0
    assert inspect(sandbox, "stats")["jobs"]["j1"]["orphans"] == []  # now it has been seen


def test_made_then_reset_or_held_past_the_timeout(
    strict_client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    fault(sandbox, endpoint="create", made=True, reset=True)
    fault(sandbox, endpoint="create", answer_delay=1.0)
    with pytest.raises(openai.APIConnectionError):
        create(strict_client, "Reset [sandbox: duration=30]", metadata={"job_id": "j2"})
    with pytest.raises(openai.APITimeoutError):
        create(
            strict_client.with_options(timeout=0.3),
            "Late [sandbox: duration=30]",
            metadata={"job_id": "j2"},
        )
    time.sleep(0.9)  # the held answer finds its client gone
    job = inspect(sandbox, "stats")["jobs"]["j2"]
    assert (job["made"], job["unheard"], len(job["orphans"])) == (2, 2, 2)
    for response_id in job["orphans"]:
        strict_client.responses.cancel(response_id)
    job = inspect(sandbox, "stats")["jobs"]["j2"]
    assert (job["cancelled"], job["orphans"]) == (2, [])
    logged = inspect(sandbox, "requests", endpoint="create")["data"]
    assert [entry["outcome"] for entry in logged] == ["reset", "client_gone"]


def test_probability_and_window(strict_client: openai.OpenAI, sandbox: RunningSandbox) -> None:
    """A benchmark's "30 % of creates are made-but-500, for the next 2 s", repeatable by seed."""
    control(sandbox, "config", {"random_seed": 7})
    fault(sandbox, endpoint="create", status=500, made=True, probability=0.3, seconds=2)
    started = time.monotonic()  # the window opened before the stand-in answered
    errors = 0
    for n in range(20):
        try:
            create(strict_client, f"Benchmark {n} [sandbox: duration=0.2]")
        except openai.InternalServerError:
            errors += 1
    stats = inspect(sandbox, "stats")
    assert 0 < errors < 20
    assert (stats["made"], stats["unheard"]) == (20, errors)
    time.sleep(max(0.0, 2.1 - (time.monotonic() - started)))
    assert inspect(sandbox, "faults")["faults_pending"] == []
    create(strict_client, "After the window")


def test_flex_requests_wait_out_resource_unavailable(
    strict_client: openai.OpenAI, sandbox: RunningSandbox
) -> None:
    fault(sandbox, endpoint="create", error="resource_unavailable", service_tier="flex", seconds=60)
    with pytest.raises(openai.RateLimitError, match="Resource Unavailable") as exc:
        create(strict_client, "Cheap", service_tier="flex")
    assert exc.value.code == "resource_unavailable"
    assert create(strict_client, "Standard", service_tier="auto").service_tier == "default"
    assert inspect(sandbox, "stats")["made"] == 1  # a refused flex request is not billed


# -- rate limits -----------------------------------------------------------------------------------


def test_requests_budget_and_headers(strict_client: openai.OpenAI, sandbox: RunningSandbox) -> None:
    control(sandbox, "config", {"rpm_limit": 3})
    remaining = []
    for n in range(3):
        answer = strict_client.responses.with_raw_response.create(
            model=MODEL, input=f"Job {n}", background=True
        )
        remaining.append(answer.headers["x-ratelimit-remaining-requests"])
        assert answer.headers["x-ratelimit-limit-requests"] == "3"
        assert answer.headers["x-ratelimit-reset-requests"].endswith("s")
        assert answer.headers["x-ratelimit-limit-tokens"] == "30000000"
    assert remaining == ["2", "1", "0"]
    with pytest.raises(openai.RateLimitError, match=r"requests per min \(RPM\): Limit 3") as exc:
        create(strict_client, "One too many")
    assert int(exc.value.response.headers["retry-after"]) >= 1
    assert exc.value.body["type"] == "requests"  # type: ignore[index]
    response_id = inspect(sandbox, "responses")["data"][0]["id"]
    assert strict_client.responses.retrieve(response_id).id == response_id  # reads are free
    control(sandbox, "config", {"rate_limit_reads": True})
    with pytest.raises(openai.RateLimitError):
        strict_client.responses.retrieve(response_id)
    assert inspect(sandbox, "stats")["rate_limited"] == 2


def test_tokens_budget(strict_client: openai.OpenAI, sandbox: RunningSandbox) -> None:
    control(sandbox, "config", {"tpm_limit": 300})
    create(strict_client, "Small", max_output_tokens=200)
    with pytest.raises(openai.RateLimitError, match=r"tokens per min \(TPM\): Limit 300") as exc:
        create(strict_client, "Again", max_output_tokens=200)
    assert exc.value.body["type"] == "tokens"  # type: ignore[index]


# -- the request log -------------------------------------------------------------------------------


def test_request_log_records_what_was_sent(client: openai.OpenAI, sandbox: RunningSandbox) -> None:
    made = create(client, "Logged [sandbox: duration=0.2]", metadata={"job_id": "j9"})
    client.responses.create(model=MODEL, input="Foreground [sandbox: duration=0.1]", store=False)
    client.responses.create(
        model=MODEL,
        input="Tiered [sandbox: duration=0.1]",
        service_tier="flex",
        extra_headers={"Idempotency-Key": "k-1"},
    )
    wait_for(client, made.id)
    log = inspect(sandbox, "requests")["data"]
    creates = [entry for entry in log if entry["endpoint"] == "create"]
    assert [entry["background"] for entry in creates] == [True, None, None]
    assert [entry["store"] for entry in creates] == [None, False, None]
    assert creates[2]["service_tier"] == "flex"
    assert creates[2]["idempotency_key"] == "k-1"
    assert all(entry["status"] == 200 and entry["model"] == MODEL for entry in creates)
    assert inspect(sandbox, "requests", background="true")["data"] == creates[:1]
    assert inspect(sandbox, "requests", **{"metadata.job_id": "j9"})["data"] == creates[:1]
    assert inspect(sandbox, "requests", header="idempotency-key")["data"] == creates[2:]
    retrieves = inspect(sandbox, "requests", method="GET")["data"]
    assert retrieves and all(entry["response_id"] == made.id for entry in retrieves)
    assert len(inspect(sandbox, "requests", limit=2)["data"]) == 2
    assert inspect(sandbox, "requests", since=log[-1]["seq"])["data"] == []
    HTTP.delete(f"{sandbox.url}/_sandbox/requests").raise_for_status()
    assert inspect(sandbox, "requests")["data"] == []


def test_unauthorised_calls_are_logged_and_not_made(sandbox: RunningSandbox) -> None:
    body = {"model": MODEL, "input": "x", "background": True}
    answer = HTTP.post(f"{sandbox.base_url}/responses", json=body)
    assert answer.status_code == 401
    [logged] = inspect(sandbox, "requests")["data"]
    assert (logged["status"], logged["background"], logged["headers"].count("authorization")) == (
        401,
        True,
        0,
    )
    good = raw(
        sandbox, "POST", "/responses", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert good.status_code == 200
    assert inspect(sandbox, "stats")["made"] == 1
