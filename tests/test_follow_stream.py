"""Without webhooks every background response is followed over its event stream: a
dropped stream resumes after its cursor, and one the provider will not stream is polled."""

from __future__ import annotations

from typing import Any

import pytest

from models.store.submission import submit
from tests.support.procs import wait_for
from tests.support.slack import TOKEN, SlackSandbox
from tests.support.stack import Stack

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _posting(stack: Stack, slack: SlackSandbox) -> None:
    """The worker posts cards and results to the Slack stand-in (no bot needed)."""
    stack.env.update({"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": slack.api_url})


def _results(slack: SlackSandbox, job_id: str) -> list[dict[str, Any]]:
    return [
        reply
        for message in slack.messages("C_GENERAL")
        for reply in message.get("replies") or []
        if f"Result of job {job_id}" in str(reply.get("text") or "")
    ]


def _stream_reads(stack: Stack) -> list[dict[str, Any]]:
    reads = stack.openai.requests(endpoint="retrieve")
    return [r for r in reads if r["query"].get("stream") == "true"]


def _polls(stack: Stack) -> list[dict[str, Any]]:
    reads = stack.openai.requests(endpoint="retrieve")
    return [r for r in reads if r["query"].get("stream") != "true"]


def _job(stack: Stack, text: str) -> str:
    job = submit(stack.db, stack.kinds, "research", text, user="U_RILEY", channel="C_GENERAL")
    return job.id


def test_a_dropped_stream_resumes_after_its_cursor_and_posts_one_result(
    stack: Stack, slack: SlackSandbox
) -> None:
    _posting(stack, slack)
    # The first event stream is the create's own (it keeps one event); the second is the
    # reader's, cut after five events.
    stack.openai.fault(endpoint="stream", drop_after=5, count=2)
    stack.start_worker()
    job_id = _job(stack, "Drop it midway [sandbox: duration=5]")
    stack.wait_status(job_id, "completed", timeout=40)
    wait_for(lambda: _results(slack, job_id), 20, "no result in Slack")
    reads = _stream_reads(stack)
    resumed = [int(r["query"]["starting_after"]) for r in reads if "starting_after" in r["query"]]
    assert resumed and resumed[0] > 0, reads
    assert _polls(stack) == []  # the stream brought the answer: nothing was polled
    assert stack.show(job_id)["output_text"]
    assert len(_results(slack, job_id)) == 1


def test_a_response_the_provider_will_not_stream_is_polled_to_its_end(
    stack: Stack, slack: SlackSandbox
) -> None:
    _posting(stack, slack)
    stack.openai.configure(stream_resume_window=0.0)  # no stream after the create's own
    stack.start_worker()
    job_id = _job(stack, "Poll me [sandbox: duration=3]")
    stack.wait_status(job_id, "completed", timeout=40)
    wait_for(lambda: _results(slack, job_id), 20, "no result in Slack")
    assert [r["status"] for r in _stream_reads(stack)] == [400]  # tried once, then left alone
    assert _polls(stack)
    assert len(_results(slack, job_id)) == 1
