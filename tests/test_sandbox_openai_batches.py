"""The Files and Batch API of the OpenAI stand-in, end to end through the real SDK:
``client.files.create``, ``client.batches.create/retrieve/cancel``, ``client.files.content``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import openai
import pytest
from openai.types import Batch, BatchRequestCounts
from openai.types.webhooks import (
    BatchCancelledWebhookEvent,
    BatchCompletedWebhookEvent,
    BatchExpiredWebhookEvent,
    BatchFailedWebhookEvent,
)

from sandbox.openai_api import RunningSandbox
from tests.support.openai_sandbox import (
    MODEL,
    WEBHOOK_SECRET,
    Receiver,
    assert_matches,
    control,
    raw,
)

pytest_plugins = ["tests.support.openai_fixtures"]  # server, sandbox, client, ...

QUICK = {"batch_validate_seconds": 0.2, "batch_rows_per_second": 10, "batch_finalize_seconds": 0.2}


def line(custom_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One request of an input file."""
    text = f"Question {custom_id} [sandbox: chars=300]"
    request = {"model": MODEL, "input": text} if body is None else body
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/responses", "body": request}


def jsonl(rows: list[Any]) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


def start(client: openai.OpenAI, rows: list[Any], **kwargs: Any) -> Batch:
    upload = client.files.create(file=("requests.jsonl", jsonl(rows)), purpose="batch")
    return client.batches.create(
        input_file_id=upload.id, endpoint="/v1/responses", completion_window="24h", **kwargs
    )


def until(client: openai.OpenAI, batch_id: str, done: Callable[[Batch], bool]) -> Batch:
    deadline = time.monotonic() + 10
    while not done(found := client.batches.retrieve(batch_id)):
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def lines_of(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [json.loads(text) for text in client.files.content(file_id).text.splitlines()]


@pytest.fixture
def quick(sandbox: RunningSandbox) -> RunningSandbox:
    control(sandbox, "config", QUICK)
    return sandbox


def test_a_batch_runs_through_its_statuses(client: openai.OpenAI, quick: RunningSandbox) -> None:
    content = jsonl([line(f"r{n}") for n in range(6)])
    upload = client.files.create(file=("in.jsonl", content), purpose="batch")
    assert (upload.purpose, upload.status, upload.bytes) == ("batch", "processed", len(content))
    assert client.files.content(upload.id).content == content
    batch = client.batches.create(
        input_file_id=upload.id,
        endpoint="/v1/responses",
        completion_window="24h",
        metadata={"run": "nightly"},
    )
    assert (batch.status, batch.metadata) == ("validating", {"run": "nightly"})
    assert batch.request_counts == BatchRequestCounts(total=0, completed=0, failed=0)
    started = until(client, batch.id, lambda b: b.status == "in_progress")
    assert started.request_counts is not None and started.request_counts.total == 6
    assert started.in_progress_at is not None
    until(client, batch.id, lambda b: 0 < _completed(b) < 6)  # counts grow over time
    until(client, batch.id, lambda b: b.status == "finalizing")
    done = until(client, batch.id, lambda b: b.status == "completed")
    assert done.request_counts == BatchRequestCounts(total=6, completed=6, failed=0)
    assert done.completed_at is not None and done.finalizing_at is not None
    assert done.error_file_id is None


def _completed(batch: Batch) -> int:
    return batch.request_counts.completed if batch.request_counts else 0


def test_the_output_file_has_the_documented_lines(
    client: openai.OpenAI, quick: RunningSandbox
) -> None:
    batch = start(client, [line("a"), line("b")])
    done = until(client, batch.id, lambda b: b.status == "completed")
    results = lines_of(client, done.output_file_id)
    assert sorted(r["custom_id"] for r in results) == ["a", "b"]  # in no promised order
    first = results[0]
    assert first["id"].startswith("batch_req_") and first["error"] is None
    assert first["response"]["status_code"] == 200
    assert first["response"]["request_id"].startswith("req_")
    assert first["response"]["body"]["status"] == "completed"
    assert_matches(first["response"]["body"], "Response")
    output = client.files.retrieve(done.output_file_id or "")
    assert (output.purpose, output.filename) == ("batch_output", f"{batch.id}_output.jsonl")


def test_failed_rows_go_to_the_error_file(client: openai.OpenAI, quick: RunningSandbox) -> None:
    control(quick, "config", {"batch_row_failure_rate": 0.5})
    rows = [line(f"r{n}") for n in range(10)] + [line("no-model", {"input": "x"})]
    done = until(client, start(client, rows).id, lambda b: b.status == "completed")
    good, bad = lines_of(client, done.output_file_id), lines_of(client, done.error_file_id)
    counts = done.request_counts
    assert counts is not None
    assert (counts.completed, counts.failed) == (len(good), len(bad))
    assert 1 <= counts.failed <= 10
    by_id = {r["custom_id"]: r["response"] for r in bad}
    assert by_id["no-model"]["status_code"] == 400
    assert by_id["no-model"]["body"]["error"]["param"] == "model"
    assert {r["status_code"] for r in by_id.values()} <= {400, 500}


def test_an_invalid_input_file_fails_the_batch(
    client: openai.OpenAI, quick: RunningSandbox, receiver: Receiver
) -> None:
    rows = [line("a"), "{not json", line("a"), {**line("b"), "url": "/v1/chat/completions"}]
    batch = start(client, rows)
    failed = until(client, batch.id, lambda b: b.status == "failed")
    assert failed.errors is not None and failed.errors.data is not None
    found = [(e.code, e.line) for e in failed.errors.data]
    assert found == [("invalid_json_line", 2), ("duplicate_custom_id", 3), ("invalid_url", 4)]
    assert failed.failed_at is not None
    assert (failed.output_file_id, failed.in_progress_at) == (None, None)
    body, headers = receiver.next()
    event = client.webhooks.unwrap(body, headers, secret=WEBHOOK_SECRET)
    assert isinstance(event, BatchFailedWebhookEvent)
    assert event.data.id == batch.id
    assert_matches(json.loads(body), "WebhookBatchFailed")


def test_cancel_keeps_partial_results(
    client: openai.OpenAI, quick: RunningSandbox, receiver: Receiver
) -> None:
    control(quick, "config", {"batch_rows_per_second": 5, "batch_cancel_seconds": 0.3})
    batch = start(client, [line(f"r{n}") for n in range(20)])
    until(client, batch.id, lambda b: bool(b.request_counts and b.request_counts.completed >= 2))
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    assert client.batches.cancel(batch.id).status == "cancelling"  # idempotent
    cancelled = until(client, batch.id, lambda b: b.status == "cancelled")
    assert_matches(raw(quick, "GET", f"/batches/{batch.id}").json(), "Batch")
    counts = cancelled.request_counts
    assert counts is not None and 2 <= counts.completed < 20
    assert len(lines_of(client, cancelled.output_file_id)) == counts.completed
    skipped = lines_of(client, cancelled.error_file_id)
    assert len(skipped) == 20 - counts.completed
    assert skipped[0]["response"] is None
    assert skipped[0]["error"]["code"] == "batch_cancelled"
    body, headers = receiver.next()
    event = client.webhooks.unwrap(body, headers, secret=WEBHOOK_SECRET)
    assert isinstance(event, BatchCancelledWebhookEvent)
    assert_matches(json.loads(body), "WebhookBatchCancelled")


def test_a_batch_past_its_window_expires(
    client: openai.OpenAI, quick: RunningSandbox, receiver: Receiver
) -> None:
    control(quick, "config", {"batch_rows_per_second": 5, "batch_expire_seconds": 0.8})
    batch = start(client, [line(f"r{n}") for n in range(20)])
    expired = until(client, batch.id, lambda b: b.status == "expired")
    assert expired.expired_at is not None
    assert lines_of(client, expired.error_file_id)[-1]["error"]["code"] == "batch_expired"
    body, headers = receiver.next()
    event = client.webhooks.unwrap(body, headers, secret=WEBHOOK_SECRET)
    assert isinstance(event, BatchExpiredWebhookEvent)
    assert event.data.id == batch.id
    assert_matches(json.loads(body), "WebhookBatchExpired")
    assert_matches(raw(quick, "GET", f"/batches/{batch.id}").json(), "Batch")


def test_completed_batch_webhook_and_schemas(
    client: openai.OpenAI, quick: RunningSandbox, receiver: Receiver
) -> None:
    batch = start(client, [line("only")])
    assert_matches(raw(quick, "GET", f"/batches/{batch.id}").json(), "Batch")
    body, headers = receiver.next()
    event = client.webhooks.unwrap(body, headers, secret=WEBHOOK_SECRET)
    assert isinstance(event, BatchCompletedWebhookEvent)
    assert event.data.id == batch.id
    assert_matches(json.loads(body), "WebhookBatchCompleted")
    done = raw(quick, "GET", f"/batches/{batch.id}").json()
    assert done["status"] == "completed"
    assert_matches(done, "Batch")
    assert_matches(raw(quick, "GET", f"/files/{done['output_file_id']}").json(), "OpenAIFile")
    with pytest.raises(
        openai.BadRequestError, match="Cannot cancel a batch with status 'completed'"
    ):
        client.batches.cancel(batch.id)


def test_files_and_batches_refuse_what_upstream_refuses(
    strict_client: openai.OpenAI, quick: RunningSandbox
) -> None:
    with pytest.raises(openai.BadRequestError, match=r"Must be \.jsonl"):
        strict_client.files.create(file=("in.csv", b"a,b"), purpose="batch")
    other = strict_client.files.create(file=("notes.txt", b"hello"), purpose="user_data")
    with pytest.raises(openai.BadRequestError, match="purpose 'batch'"):
        strict_client.batches.create(
            input_file_id=other.id, endpoint="/v1/responses", completion_window="24h"
        )
    with pytest.raises(openai.BadRequestError, match="not found"):
        strict_client.batches.create(
            input_file_id="file-nope", endpoint="/v1/responses", completion_window="24h"
        )
    body = {"input_file_id": other.id, "endpoint": "/v1/responses", "completion_window": "48h"}
    assert raw(quick, "POST", "/batches", json=body).json()["error"]["code"] == "invalid_value"
    assert strict_client.files.delete(other.id).deleted
    with pytest.raises(openai.NotFoundError, match="No such File object"):
        strict_client.files.retrieve(other.id)
    with pytest.raises(openai.NotFoundError):
        strict_client.batches.retrieve("batch_nope")


def test_batches_are_listed_newest_first_a_page_at_a_time(
    client: openai.OpenAI, quick: RunningSandbox
) -> None:
    made = [start(client, [line("a")], metadata={"n": str(n)}).id for n in range(3)]
    first = client.batches.list(limit=2)
    assert [b.id for b in first.data] == made[:0:-1] and first.has_more
    assert_matches(raw(quick, "GET", "/batches?limit=2").json(), "ListBatchesResponse")
    rest = client.batches.list(limit=2, after=first.data[-1].id)
    assert [b.id for b in rest.data] == made[:1] and not rest.has_more
    assert [b.metadata for b in client.batches.list()] == [{"n": "2"}, {"n": "1"}, {"n": "0"}]
    assert raw(quick, "GET", "/batches?limit=101").status_code == 400


def test_output_lines_come_in_no_promised_order(
    client: openai.OpenAI, quick: RunningSandbox
) -> None:
    control(quick, "config", {"batch_rows_per_second": 1000})
    batch = start(client, [line(f"r{n:02}") for n in range(40)])
    done = until(client, batch.id, lambda b: b.status == "completed")
    ids = [r["custom_id"] for r in lines_of(client, done.output_file_id)]
    assert sorted(ids) == [f"r{n:02}" for n in range(40)] and ids != sorted(ids)
