"""Retention: a job's question and answer are purged the set number of days after it ends,
first appended to the archive when one is named; its row, cost and events stay, it still
lists, and nothing still running or still to be told is touched."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.job import Notice
from tests.support.procs import wait_for
from tests.support.stack import Stack

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
SECONDS = 1.0
DAYS = str(SECONDS / 86_400)  # ERRAND_RETENTION_DAYS of about a second


def _submit(stack: Stack, kind: str, text: str) -> str:
    made = stack.cli("jobs", "submit", kind, text)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def _notices(stack: Stack, job_id: str) -> int:
    with stack.db.unit() as unit:
        count = unit.session.scalar(select(func.count(Notice.id)).where(Notice.job_id == job_id))
    return int(count or 0)


@BOTH
def test_purge_removes_what_was_asked_and_answered_and_keeps_the_audit_stub(
    stack: Stack, tmp_path: Path
) -> None:
    ended = [_submit(stack, "research", f"Secret plan {n} [sandbox: duration=1]") for n in (1, 2)]
    in_review = _submit(stack, "draft", "Secret draft [sandbox: duration=1]")
    stack.start_worker()
    stack.wait_settled([*ended, in_review], timeout=40)
    running = _submit(stack, "research", "Still going [sandbox: duration=120]")
    stack.wait_status(running, "running", timeout=30)
    before = {job_id: stack.show(job_id) for job_id in ended}
    assert all(shown["output_text"] for shown in before.values())
    time.sleep(SECONDS * 1.5)

    archive = tmp_path / "archive" / "purged.jsonl"
    stack.env.update({"ERRAND_RETENTION_DAYS": DAYS, "ERRAND_RETENTION_ARCHIVE": str(archive)})
    dry = stack.cli("purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Would purge the input and output of 2 jobs")
    assert all(job_id in dry.stdout for job_id in ended)
    assert running not in dry.stdout and in_review not in dry.stdout
    assert not archive.exists() and stack.show(ended[0])["output_text"]

    done = stack.cli("purge")
    assert done.returncode == 0 and done.stdout.startswith("Purged the input and output of 2 jobs")
    archived = [json.loads(line) for line in archive.read_text().splitlines()]
    assert {line["id"] for line in archived} == set(ended)
    for line in archived:
        assert (
            line["input"].startswith("Secret plan")
            and line["output_text"] == before[line["id"]]["output_text"]
        )
        assert [e["action"] for e in line["events"]] == [
            e["action"] for e in before[line["id"]]["events"]
        ]

    for job_id in ended:
        shown = stack.show(job_id)
        assert shown["input"] == "" and shown["output_text"] is None and shown["output"] is None
        assert shown["purged_at"] and shown["status"] == before[job_id]["status"]
        assert shown["cost_usd"] == before[job_id]["cost_usd"] > 0
        assert [e["action"] for e in shown["events"]] == [
            e["action"] for e in before[job_id]["events"]
        ]
        assert all(e["detail"] is None for e in shown["events"]) and _notices(stack, job_id) == 0
    listed = json.loads(stack.cli("jobs", "list", "--json").stdout)
    assert {j["id"] for j in listed} >= {*ended, running}
    assert "Secret plan" not in stack.cli("jobs", "list").stdout
    assert stack.show(running)["input"] == "Still going [sandbox: duration=120]"
    assert stack.show(in_review)["output_text"]
    assert stack.cli("purge").stdout.startswith("Purged the input and output of 0 jobs")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_purged_job_cannot_be_retried(stack: Stack) -> None:
    stack.start_worker()  # tells the news (to the log here): a job's untold news keeps it
    job_id = _submit(stack, "research", "Gone soon [sandbox: duration=60]")
    stack.wait_status(job_id, "running")
    assert stack.cli("jobs", "cancel", job_id).returncode == 0
    stack.wait_status(job_id, "canceled")
    time.sleep(SECONDS * 1.5)
    stack.env["ERRAND_RETENTION_DAYS"] = DAYS
    assert stack.cli("purge").returncode == 0
    refused = stack.cli("jobs", "retry", job_id)
    assert refused.returncode == 2 and "past its retention period" in refused.stderr
    assert stack.status(job_id) == "canceled"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_workers_apply_a_kinds_own_retention_by_themselves(stack: Stack) -> None:
    stack.write_kinds(retention_days=SECONDS / 86_400)
    stack.env["ERRAND_RETENTION_INTERVAL"] = "1"  # hourly by default
    ended = _submit(stack, "research", "Kept a second [sandbox: duration=1]")
    stack.start_worker()
    stack.wait_settled([ended], timeout=40)
    wait_for(lambda: stack.show(ended)["purged_at"], 30, "the worker did not purge")
    assert stack.show(ended)["input"] == "" and stack.show(ended)["output_text"] is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_a_policy_purge_says_so_and_keeps_everything(stack: Stack) -> None:
    told = stack.cli("purge")
    assert told.returncode == 0 and told.stdout.startswith("No retention policy")
