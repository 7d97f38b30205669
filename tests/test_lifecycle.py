"""The lifecycle's compare-and-set: one winner per race, the loser told the real status."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from errand.runtime import Runtime, build_runtime
from errand.settings import Settings
from models.ids import new_job_id
from models.job import Event, Job
from models.lifecycle import (
    JobStatus,
    TransitionRefused,
    product_status,
    transition,
)


@pytest.fixture
def runtime(database_url: str, redis_url: str) -> Iterator[Runtime]:
    built = build_runtime(Settings(_env_file=None, database_url=database_url, redis_url=redis_url))  # type: ignore[call-arg]
    yield built
    built.engine.dispose()


def _job(runtime: Runtime, status: JobStatus = JobStatus.RUNNING) -> str:
    job_id = new_job_id()
    with runtime.unit() as unit:
        unit.session.add(
            Job(
                id=job_id,
                kind="research",
                lane="background",
                status=status.value,
                requested_by="U1",
                input_text="q",
                model="m",
                attempts=1,
            )
        )
    return job_id


def _events(runtime: Runtime, job_id: str) -> list[Event]:
    with runtime.unit() as unit:
        return list(unit.session.scalars(select(Event).where(Event.job_id == job_id)))


def test_transition_records_event_with_actor(runtime: Runtime) -> None:
    job_id = _job(runtime)
    with runtime.unit() as unit:
        change = transition(
            unit.session, job_id, JobStatus.COMPLETED, actor="provider", action="finish"
        )
    assert (change.from_status, change.to_status) == (JobStatus.RUNNING, JobStatus.COMPLETED)
    [event] = _events(runtime, job_id)
    assert (event.actor, event.from_status, event.to_status) == ("provider", "running", "completed")


def test_refused_transition_names_the_real_status_and_changes_nothing(runtime: Runtime) -> None:
    job_id = _job(runtime, JobStatus.COMPLETED)
    with pytest.raises(TransitionRefused) as refused, runtime.unit() as unit:
        transition(unit.session, job_id, JobStatus.CANCELED, actor="U1", action="cancel")
    assert refused.value.current == JobStatus.COMPLETED
    assert "completed" in str(refused.value)
    assert _events(runtime, job_id) == []


def _race(runtime: Runtime, job_id: str) -> dict[str, str]:
    """A cancel click and the worker's completion, released at the same instant."""
    outcomes: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def attempt(target: JobStatus, actor: str) -> None:
        barrier.wait()
        try:
            with runtime.unit() as unit:
                transition(unit.session, job_id, target, actor=actor, action=target.value)
            outcomes[actor] = "won"
        except TransitionRefused as refused:
            outcomes[actor] = f"lost to {refused.current.value}"

    threads = [
        threading.Thread(target=attempt, args=(JobStatus.CANCELED, "U1")),
        threading.Thread(target=attempt, args=(JobStatus.COMPLETED, "provider")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_racing_cancel_and_completion_have_exactly_one_winner(runtime: Runtime) -> None:
    for _ in range(10):
        job_id = _job(runtime)
        outcomes = sorted(_race(runtime, job_id).values())
        assert outcomes[1] == "won"
        assert outcomes[0].startswith("lost to ")
        assert len(_events(runtime, job_id)) == 1


@pytest.mark.parametrize(
    ("provider", "review", "expected"),
    [
        ("queued", False, JobStatus.QUEUED),
        ("in_progress", False, JobStatus.RUNNING),
        ("completed", False, JobStatus.COMPLETED),
        ("completed", True, JobStatus.NEEDS_REVIEW),
        ("failed", False, JobStatus.FAILED),
        ("cancelled", False, JobStatus.CANCELED),
        ("incomplete", False, JobStatus.FAILED),
        ("incomplete", True, JobStatus.FAILED),
    ],
)
def test_provider_status_maps_through_the_kind_policy(
    provider: str, review: bool, expected: JobStatus
) -> None:
    assert product_status(provider, review=review) == expected
