"""What people choose for themselves and for their channels, apart from any one job:
a channel's default options per kind (`/errand settings`), and how a person is told
that their job has news (App Home)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class ChannelDefault(Base):
    """A channel's default model, effort and tier for one kind; None: the kind's own."""

    __tablename__ = "channel_defaults"

    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str | None] = mapped_column(String(64))
    effort: Mapped[str | None] = mapped_column(String(16))
    tier: Mapped[str | None] = mapped_column(String(16))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PersonPreference(Base):
    """One person's choices: news of their jobs by DM instead of a mention in the thread."""

    __tablename__ = "person_preferences"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    notify_by_dm: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
