"""Streaming kinds: live progress from the response's events, a stored cursor, and a
resume after the worker dies mid-stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from models.job import Attempt, Notice
from models.store.submission import submit
from tests.support.procs import wait_for
from tests.support.stack import Stack

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def streaming(stack: Stack) -> Stack:
    """Every kind streams (ERRAND_CONFIG with `stream: true`)."""
    stack.write_kinds(stream=True)
    return stack


def _cursor(stack: Stack, job_id: str) -> int | None:
    with stack.db.unit() as unit:
        return unit.session.scalar(select(Attempt.stream_cursor).where(Attempt.job_id == job_id))


def _milestones(stack: Stack, job_id: str) -> list[str]:
    with stack.db.unit() as unit:
        return list(
            unit.session.scalars(
                select(Notice.milestone).where(Notice.job_id == job_id).order_by(Notice.id)
            )
        )


def _log_lines(path: Path, message: str) -> list[dict[str, Any]]:
    found = []
    for line in path.read_text().splitlines():
        if line.startswith("{") and f'"msg": "{message}' in line:
            found.append(json.loads(line))
    return found


@SQLITE
def test_streaming_job_stores_its_cursor_shows_progress_and_completes(streaming: Stack) -> None:
    streaming.start_worker()
    job = submit(
        streaming.db, streaming.kinds, "research", "Stream it [sandbox: duration=16]", user="U"
    )
    wait_for(lambda: (_cursor(streaming, job.id) or 0) > 3, 15, "no cursor stored")
    streaming.wait_status(job.id, "completed", timeout=40)
    [response] = streaming.openai.responses_for(job.id)
    shown = streaming.show(job.id)
    assert shown["output_text"] and len(shown["output_text"]) > 100
    # The terminal event carried the result: one stream read, polls held back meanwhile.
    assert response["calls"]["retrieve"] <= 3
    cursor = _cursor(streaming, job.id)
    assert cursor is not None and cursor > 10
    milestones = _milestones(streaming, job.id)
    assert "progress" in milestones
    assert milestones.index("progress") < milestones.index("completed")


@SQLITE
def test_stream_resumes_after_the_worker_is_killed(streaming: Stack) -> None:
    streaming.start_worker()
    job = submit(
        streaming.db, streaming.kinds, "research", "Long one [sandbox: duration=25]", user="U"
    )
    wait_for(lambda: (_cursor(streaming, job.id) or 0) >= 8, 20, "stream never got going")
    streaming.stop_workers(kill=True)
    seen = _cursor(streaming, job.id)
    assert seen is not None
    streaming.start_worker()
    streaming.wait_status(job.id, "completed", timeout=60)
    resumed = _log_lines(streaming.logs / "worker0.log", "stream resume")
    assert resumed, "the second worker did not resume the stream"
    assert resumed[0]["starting_after"] >= seen
    assert (_cursor(streaming, job.id) or 0) > seen
    assert streaming.show(job.id)["output_text"]


@SQLITE
def test_follow_pulse_finishes_the_job_when_the_stream_cannot_open(streaming: Stack) -> None:
    streaming.openai.fault(endpoint="retrieve", status=500, count=3)
    streaming.start_worker()
    job = submit(streaming.db, streaming.kinds, "research", "Flaky [sandbox: duration=3]", user="U")
    streaming.wait_status(job.id, "completed", timeout=40)
