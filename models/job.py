"""The job record, its attempts at the provider, its audit trail and its pending notices."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, utcnow
from models.status import ACTIVE, values


class Job(Base):
    """One unit of work a person asked for; the source of truth for its whole life."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_follow", "status", "next_check_at"),
        Index("ix_jobs_requester", "requested_by", "created_at"),
        Index("ix_jobs_thread", "channel_id", "thread_ts"),
        # The console: its list pages in creation order and its overview counts read these
        # alone, never the rows (whose question and answer make them large).
        Index(
            "ix_jobs_listing",
            "created_at",
            "id",
            "status",
            "kind",
            "lane",
            "cost_usd",
            "requested_by",
            "channel_id",
        ),
        Index("ix_jobs_status_created", "status", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    lane: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    team_id: Mapped[str | None] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    # The job's thread: under its card for a slash command, the thread it was asked in
    # for a mention. `card_ts` is the card itself (the thread's root for a slash command,
    # a reply in the thread for a mention); None until it is posted.
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    # The message that asked the current turn (a mention), for the reactions on it.
    asked_ts: Mapped[str | None] = mapped_column(String(32))
    turn: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    response_url: Mapped[str | None] = mapped_column(Text)
    input_text: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    model: Mapped[str] = mapped_column(String(64))
    # What it runs with and why: `{"model": {"value": …, "source": "request"}, "effort": …,
    # "tier": …}` (models.options); None for jobs stored before options were kept.
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    output_text: Mapped[str | None] = mapped_column(Text)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)  # only sentences Errand wrote, for people
    provider_error: Mapped[str | None] = mapped_column(
        Text
    )  # the provider's own words, for on-call
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cost_usd: Mapped[float | None]
    service_tier: Mapped[str | None] = mapped_column(String(16))
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress_noted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_reason: Mapped[str | None] = mapped_column(Text)
    stuck_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_requested: Mapped[str | None] = mapped_column(String(16))
    stop_requested_by: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the retention policy removed its input and output (the row stays, for audit).
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A person's marks (who made them is in the events): archived, hidden from /jobs and
    # App Home; escalated, posted to on-call once.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attempt_rows: Mapped[list[Attempt]] = relationship(
        back_populates="job", order_by="Attempt.number", lazy="selectin"
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="job", order_by="Event.id", lazy="raise"
    )

    @property
    def turn_number(self) -> int:
        """The turn the job is on: 1, plus one per follow-up (1 for a job not yet stored)."""
        return self.turn or 1

    @property
    def current_attempt(self) -> Attempt | None:
        """The attempt the job is on now (a retry adds one); None before the first."""
        return next((a for a in self.attempt_rows if a.number == self.attempts), None)


class Attempt(Base):
    """One provider response started for a job; a retry is a new attempt."""

    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("job_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    response_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    # Create calls sent; of them, those not known to have made nothing (an answer that never
    # came may hide a response): at most two per attempt (models.store.claim).
    create_calls: Mapped[int] = mapped_column(Integer, default=0)
    uncertain_creates: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_create_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its first create call
    estimate_usd: Mapped[float | None]  # booked against the requester's budget at launch
    cost_usd: Mapped[float | None]
    service_tier: Mapped[str | None] = mapped_column(String(16))
    approved_by: Mapped[str | None] = mapped_column(String(64))  # let it pass the budget
    provider_error: Mapped[str | None] = mapped_column(Text)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    stream_cursor: Mapped[int | None] = mapped_column(Integer)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    job: Mapped[Job] = relationship(back_populates="attempt_rows")


class Event(Base):
    """The audit trail: every status change and every action, with who did it."""

    __tablename__ = "events"
    # The console's overview counts some actions (the provider's failures) over a window.
    __table_args__ = (Index("ix_events_action", "action", "to_status", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)

    job: Mapped[Job] = relationship(back_populates="events")


class Notice(Base):
    """A milestone waiting to reach the notifier; written with the change it reports.

    Delivery happens after commit and is retried from here, so a Slack outage
    delays a message but never loses it, and the key keeps each milestone single.
    """

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("job_id", "key"),
        Index("ix_notices_pending", "delivered_at", "next_try_at"),
        # The console's overview: news given up, and news delivered (results' lag, retries).
        Index("ix_notices_given_up", "given_up_at"),
        Index("ix_notices_delivered", "delivered_at", "milestone", "tries", "job_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    milestone: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when delivery was abandoned (a permanent Slack error, or too many tries): the
    # notice is undeliverable, shown to operators, and holds up nothing else.
    given_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


# The tables behind the models, for statements that run for every job: an UPDATE or
# INSERT on a table skips the ORM's statement layer (session synchronisation, bulk
# bookkeeping), which cost the worker more than the round trip itself.
jobs = cast(Table, Job.__table__)
attempts = cast(Table, Attempt.__table__)
events = cast(Table, Event.__table__)
notices = cast(Table, Notice.__table__)


def is_current_attempt() -> ColumnElement[bool]:
    """Join condition: the attempt a job is on now (the one definition of "current")."""
    return and_(Attempt.job_id == Job.id, Attempt.number == Job.attempts)


def is_active() -> ColumnElement[bool]:
    """The job is queued or running: the one definition of "active" in SQL."""
    return Job.status.in_(values(ACTIVE))
