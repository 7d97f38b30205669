"""When news backs up, results go out first; the rest keeps its oldest-first order."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from errand import jobs
from models.lifecycle import JobStatus, transition
from tests.support.stack import Stack
from worker.notify import Milestone, deliver_due


class Recorder:
    """A notifier that only remembers what it was asked to tell, in order."""

    def __init__(self) -> None:
        self.told: list[tuple[str, str]] = []

    def notify(self, milestone: Milestone) -> dict[str, Any]:
        self.told.append((milestone.job.id, milestone.name))
        return {}

    def alert(self, text: str) -> None:
        self.told.append(("on-call", text))


def test_a_result_goes_out_before_older_news_of_other_jobs(stack: Stack) -> None:
    recorder = Recorder()
    runtime = dataclasses.replace(stack.runtime, notifier=recorder)
    first, second, third = (
        jobs.submit(runtime, "research", f"Question {n}", user="U1", channel="C1").id
        for n in range(3)
    )
    with runtime.unit() as unit:
        transition(
            unit.session,
            second,
            JobStatus.COMPLETED,
            actor="provider",
            action="finish",
            notice="completed",
        )
    with ThreadPoolExecutor(1) as executor:
        for _ in range(3):
            deliver_due(runtime, executor, batch=1)
    assert recorder.told == [
        (second, "queued"),
        (second, "completed"),
        (first, "queued"),
        (third, "queued"),
    ]
