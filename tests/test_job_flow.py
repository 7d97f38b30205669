"""A job from the command line to the provider and back, with a real worker process."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import select

from models.job import Attempt, Job
from tests.support.stack import Stack

# The lifecycle's paths are the same on both databases; the flows that race or
# lease run on both, the rest on SQLite to keep the suite short.
ONE_BACKEND = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CONTRACT_FIELDS = {
    "id",
    "kind",
    "status",
    "lane",
    "requested_by",
    "channel_id",
    "thread_ts",
    "provider_response_id",
    "attempts",
    "output_text",
    "error",
    "usage",
    "cost_usd",
    "service_tier",
    "provider_creates",
    "turns",
    "created_at",
    "updated_at",
    "events",
}


def _submit(stack: Stack, text: str, kind: str = "research") -> str:
    result = stack.cli("jobs", "submit", kind, text, "--user", "U_TEST")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_research_job_runs_queued_running_completed(stack: Stack) -> None:
    stack.start_worker()
    job_id = _submit(stack, "What is the capital of France? [sandbox: duration=4]")
    stack.wait_status(job_id, "completed", timeout=30)
    printed = stack.cli("jobs", "show", job_id, "--json")
    shown = json.loads(printed.stdout)
    assert shown == stack.show(job_id)
    assert shown.keys() >= CONTRACT_FIELDS
    assert shown["provider_response_id"].startswith("resp_")
    assert shown["output_text"] and "France" in shown["output_text"]
    assert shown["usage"]["output_tokens"] > 0
    assert shown["cost_usd"] > 0
    path = [(e["from_status"], e["to_status"]) for e in shown["events"] if e["to_status"]]
    assert path == [(None, "queued"), ("queued", "running"), ("running", "completed")]
    assert (shown["provider_creates"], shown["turns"], shown["service_tier"]) == (1, 1, "default")
    responses = stack.openai.responses_for(job_id)
    assert len(responses) == 1
    [create] = stack.openai.requests(endpoint="create")
    assert create["metadata"] == {"job_id": job_id, "attempt": "1", "kind": "research"}
    assert (create["max_output_tokens"], create["stream"]) == (16000, True)


def _events(shown: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(e["action"], e["from_status"], e["to_status"]) for e in shown["events"]]


@ONE_BACKEND
def test_cancel_reaches_the_provider_and_twice_is_harmless(stack: Stack) -> None:
    stack.start_worker()
    job_id = _submit(stack, "A long question [sandbox: slow]")
    stack.wait_status(job_id, "running")
    assert stack.cli("jobs", "cancel", job_id, "--user", "U_TEST").returncode == 0
    second = stack.cli("jobs", "cancel", job_id, "--user", "U_TEST")
    assert second.returncode in (0, 2), second.stderr
    stack.wait_status(job_id, "canceled")
    [response] = stack.openai.responses_for(job_id)
    assert response["status"] == "cancelled"
    shown = stack.show(job_id)
    assert ("finish", "running", "canceled") in _events(shown)
    assert [e["actor"] for e in shown["events"] if e["to_status"] == "canceled"] == ["cli:U_TEST"]
    third = stack.cli("jobs", "cancel", job_id)
    assert third.returncode == 2 and "canceled" in third.stderr


@pytest.mark.kinds(follow={"first_check": 2.0, "growth": 5.0, "max_interval": 100.0})
def test_cancel_racing_completion_ends_in_what_the_provider_reached(stack: Stack) -> None:
    stack.env["ERRAND_STREAMS_PER_WORKER"] = "0"  # polled: the finish is seen late, at 12 s
    stack.start_worker()
    job_id = _submit(stack, "Quick one [sandbox: duration=3 queue=0]")
    stack.wait_status(job_id, "running")  # seen at the first check, 2 s in
    time.sleep(1.2)  # the provider finishes at 3 s; our next check is at 12 s
    stack.cli("jobs", "cancel", job_id, "--user", "U_LATE")
    final = stack.wait_status(job_id, "completed", "canceled")
    shown = stack.show(job_id)
    actions = [e["action"] for e in shown["events"]]
    assert "cancel_requested" in actions
    terminal = [e for e in shown["events"] if e["to_status"] in ("completed", "canceled")]
    assert len(terminal) == 1 and terminal[0]["to_status"] == final
    [response] = stack.openai.responses_for(job_id)
    assert {"completed": "completed", "canceled": "cancelled"}[final] == response["status"]


@ONE_BACKEND
def test_failed_response_ends_failed_with_reason_and_a_person_can_always_retry(
    stack: Stack,
) -> None:
    """Automatic attempts are capped by the kind; a person's retries are not."""
    stack.write_kinds(max_attempts=2)
    stack.start_worker()
    job_id = _submit(stack, "Doomed [sandbox: duration=0.5 fail=invalid_prompt]")
    stack.wait_status(job_id, "failed")
    shown = stack.show(job_id)
    assert "invalid_prompt" in shown["error"]
    assert stack.cli("jobs", "retry", job_id, "--user", "U_TEST").returncode == 0
    stack.wait_status(job_id, "failed", "completed", timeout=30)
    shown = stack.show(job_id)
    assert shown["attempts"] == 2
    assert len({a["response_id"] for a in shown["attempt_history"]}) == 2
    stack.wait_status(job_id, "failed")
    again = stack.cli("jobs", "retry", job_id)
    assert again.returncode == 0, again.stderr
    assert "attempt 3" in again.stdout


@ONE_BACKEND
def test_an_answer_cut_off_with_nothing_written_fails_with_the_reason(stack: Stack) -> None:
    stack.write_kinds(max_output_tokens=50)  # the model's reasoning uses all of it
    stack.start_worker()
    job_id = _submit(stack, "Cut short [sandbox: duration=0.5]")
    stack.wait_status(job_id, "failed")
    shown = stack.show(job_id)
    assert "cut off at the output limit" in shown["error"] and not shown["output_text"]


@ONE_BACKEND
def test_expired_job_is_cancelled_at_the_provider(stack: Stack) -> None:
    stack.write_kinds(timeout_seconds=2)
    stack.start_worker()
    job_id = _submit(stack, "Too slow [sandbox: slow]")
    stack.wait_status(job_id, "expired", timeout=30)
    [response] = stack.openai.responses_for(job_id)
    assert response["status"] == "cancelled"
    shown = stack.show(job_id)
    assert [e["actor"] for e in shown["events"] if e["to_status"] == "expired"] == ["errand"]


@ONE_BACKEND
def test_transient_provider_errors_never_fail_a_job(stack: Stack) -> None:
    stack.env["ERRAND_CREATE_UNKNOWN_WAIT"] = "1"
    stack.openai.fault(endpoint="create", status=429, count=3, retry_after=1)
    stack.openai.fault(endpoint="create", status=503, count=1)  # unanswered: tried once more
    stack.openai.fault(endpoint="retrieve", status=429, count=3, retry_after=1)
    stack.openai.fault(endpoint="retrieve", status=500, count=3)
    stack.start_worker()
    job_id = _submit(stack, "Through the storm [sandbox: duration=1]")
    stack.wait_status(job_id, "completed", timeout=60)
    assert len(stack.openai.responses_for(job_id)) == 1
    actions = [e["action"] for e in stack.show(job_id)["events"]]
    assert actions.count("start_delayed") == 3 and actions.count("start_unanswered") == 1


@ONE_BACKEND
def test_bad_input_gets_a_clear_answer_and_no_job(stack: Stack) -> None:
    empty = stack.cli("jobs", "submit", "research", "   ")
    assert empty.returncode == 2 and "/research <" in empty.stderr
    unknown = stack.cli("jobs", "submit", "poetry", "a sonnet")
    assert unknown.returncode == 2 and "unknown job kind" in unknown.stderr
    listing = stack.cli("jobs", "list", "--json")
    assert json.loads(listing.stdout) == []


@ONE_BACKEND
@pytest.mark.kinds(follow={"first_check": 0.5, "growth": 2.0, "max_interval": 100.0})
def test_polling_backs_off_by_the_kinds_policy(stack: Stack) -> None:
    """After k checks the next one waits interval(k): 0.5, 1, 2, 4 s, no step skipped."""
    stack.env["ERRAND_STREAMS_PER_WORKER"] = "0"  # polled: the checks are the subject
    stack.start_worker()
    job_id = _submit(stack, "A long question [sandbox: slow]")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        checks, waited = _next_check(stack, job_id)
        if checks >= 3:
            break
        time.sleep(0.1)
    assert checks == 3, f"{checks} checks in 20 s"
    assert waited == pytest.approx(4.0, abs=0.05)


def _next_check(stack: Stack, job_id: str) -> tuple[int, float]:
    """(checks made, seconds from the last check to the next one) as stored."""
    with stack.db.unit() as unit:
        row = unit.session.execute(
            select(Attempt.checks, Attempt.last_checked_at, Job.next_check_at)
            .join(Job, Job.id == Attempt.job_id)
            .where(Job.id == job_id)
        ).one()
    checks, last, upcoming = row
    if not checks or last is None or upcoming is None:
        return 0, 0.0
    return int(checks), (upcoming - last).total_seconds()
