"""A new job is stored whole (job, first attempt, event, notice) or not at all, the same
on both backends, though PostgreSQL stores it in one statement and SQLite in four."""

from __future__ import annotations

from sqlalchemy import select

from models.job import Attempt, Event, Job, Notice
from models.store.submission import submit
from tests.support.stack import Stack


def test_a_submitted_job_is_stored_with_its_attempt_event_and_notice(stack: Stack) -> None:
    job = submit(
        stack.db,
        stack.kinds,
        "research",
        "  Why is the sky blue?  ",
        user="U1",
        channel="C1",
        team="T1",
    )
    with stack.db.unit() as unit:
        stored = unit.session.get(Job, job.id)
        [attempt] = unit.session.scalars(select(Attempt).where(Attempt.job_id == job.id))
        [event] = unit.session.scalars(select(Event).where(Event.job_id == job.id))
        notice, working = unit.session.scalars(
            select(Notice).where(Notice.job_id == job.id).order_by(Notice.id)
        )
    assert stored is not None
    assert (stored.status, stored.input_text, stored.requested_by) == (
        "queued",
        "Why is the sky blue?",
        "U1",
    )
    assert (stored.channel_id, stored.team_id, stored.attempts) == ("C1", "T1", 1)
    assert stored.deadline_at is not None and stored.deadline_at > stored.created_at
    assert attempt.number == 1 and attempt.idempotency_key.startswith(f"errand-{job.id}-1-")
    assert (attempt.create_calls, attempt.checks, attempt.response_id) == (0, 0, None)
    assert (event.actor, event.action, event.from_status, event.to_status) == (
        "U1",
        "submitted",
        None,
        "queued",
    )
    assert event.detail == "research: Why is the sky blue?"
    assert (notice.key, notice.milestone, notice.tries, notice.delivered_at) == (
        "queued",
        "queued",
        0,
        None,
    )
    # Asked in a channel: its thread shows the job working, once the card is up.
    assert (working.milestone, working.detail) == ("agent_status", {"status": "processing"})


def test_a_repeated_key_returns_the_first_job_and_stores_nothing_more(stack: Stack) -> None:
    """The second job row is refused, and with it its attempt, event and notice."""
    first = submit(stack.db, stack.kinds, "research", "Once", user="U1", idempotency_key="slack:T1")
    again = submit(stack.db, stack.kinds, "research", "Once", user="U1", idempotency_key="slack:T1")
    assert again.id == first.id
    with stack.db.unit() as unit:
        assert len(unit.session.scalars(select(Job)).all()) == 1
        assert len(unit.session.scalars(select(Attempt)).all()) == 1
        assert len(unit.session.scalars(select(Event)).all()) == 1
        assert len(unit.session.scalars(select(Notice)).all()) == 1


def test_a_mentions_notices_are_numbered_card_first_on_every_backend(stack: Stack) -> None:
    """News goes out in notice order: the card before the thread's status and the 👀
    (PostgreSQL stores a new job in one statement, whose parts run in an order of its own)."""
    job = submit(
        stack.db,
        stack.kinds,
        "research",
        "Why?",
        user="U1",
        channel="C1",
        thread_ts="1.1",
        asked_ts="1.2",
    )
    with stack.db.unit() as unit:
        stored = unit.session.scalars(
            select(Notice.milestone).where(Notice.job_id == job.id).order_by(Notice.id)
        )
        assert list(stored) == ["queued", "agent_status", "reaction"]
