"""A job's turns: the first question and each follow-up asked in its thread.

A follow-up continues the job at the provider (`previous_response_id` names the last
answered turn's response), so each turn keeps what it was asked, by whom, which response
answered it, what that answer said and what it cost. Kept apart from `jobs` so the job
list and the follow pulse never carry a conversation.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class Turn(Base):
    """One question of a job and its answer; turn 1 is the job's own question."""

    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("job_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    input_text: Mapped[str] = mapped_column(Text)
    # The Slack message that asked (its reactions tell the asker how it went), and the
    # delivery key of a follow-up, so a repeated delivery of the same mention adds no turn.
    message_ts: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # The response this turn continues; None for turn 1, and once the provider no longer
    # keeps it (the turn then starts afresh with the earlier turns' text as context).
    previous_response_id: Mapped[str | None] = mapped_column(String(128))
    response_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str | None] = mapped_column(String(32))  # the job's status at its end
    output_text: Mapped[str | None] = mapped_column(Text)
    cost_usd: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


turns = cast(Table, Turn.__table__)
