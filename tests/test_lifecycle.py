"""The lifecycle's compare-and-set: one winner per race, the loser told the real status."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from models.db import Database
from models.errors import TransitionRefused
from models.ids import new_job_id
from models.job import Event, Job
from models.status import JobStatus, product_status
from models.store.lifecycle import transition


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    built = Database.connect(database_url)
    yield built
    built.engine.dispose()


def _job(db: Database, status: JobStatus = JobStatus.RUNNING) -> str:
    job_id = new_job_id()
    with db.unit() as unit:
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


def _events(db: Database, job_id: str) -> list[Event]:
    with db.unit() as unit:
        return list(unit.session.scalars(select(Event).where(Event.job_id == job_id)))


def test_transition_records_event_with_actor(db: Database) -> None:
    job_id = _job(db)
    with db.unit() as unit:
        change = transition(
            unit.session, job_id, JobStatus.COMPLETED, actor="provider", action="finish"
        )
    assert (change.from_status, change.to_status) == (JobStatus.RUNNING, JobStatus.COMPLETED)
    [event] = _events(db, job_id)
    assert (event.actor, event.from_status, event.to_status) == ("provider", "running", "completed")


def test_refused_transition_names_the_real_status_and_changes_nothing(db: Database) -> None:
    job_id = _job(db, JobStatus.COMPLETED)
    with pytest.raises(TransitionRefused) as refused, db.unit() as unit:
        transition(unit.session, job_id, JobStatus.CANCELED, actor="U1", action="cancel")
    assert refused.value.current == JobStatus.COMPLETED
    assert "completed" in str(refused.value)
    assert _events(db, job_id) == []


def _race(db: Database, job_id: str) -> dict[str, str]:
    """A cancel click and the worker's completion, released at the same instant."""
    outcomes: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def attempt(target: JobStatus, actor: str) -> None:
        barrier.wait()
        try:
            with db.unit() as unit:
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


def test_racing_cancel_and_completion_have_exactly_one_winner(db: Database) -> None:
    for _ in range(10):
        job_id = _job(db)
        outcomes = sorted(_race(db, job_id).values())
        assert outcomes[1] == "won"
        assert outcomes[0].startswith("lost to ")
        assert len(_events(db, job_id)) == 1


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


@pytest.mark.parametrize(("review", "expected"), [(False, "completed"), (True, "needs_review")])
def test_an_incomplete_answer_with_text_is_delivered_like_a_finished_one(
    review: bool, expected: str
) -> None:
    assert product_status("incomplete", review=review, produced=True) == expected
