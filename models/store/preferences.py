"""Reading and writing what people choose apart from any one job: a channel's default
options per kind, and whether a person is told of their jobs' news by DM."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import Database
from models.preferences import ChannelDefault, PersonPreference

Defaults = dict[str, str | None]  # option name (model, effort, tier): value, None for the kind's


_DEFAULTS = select(ChannelDefault.model, ChannelDefault.effort, ChannelDefault.tier).where(
    ChannelDefault.channel_id == bindparam("channel"), ChannelDefault.kind == bindparam("kind")
)


def channel_defaults(db: Database, channel: str, kind: str) -> Defaults:
    """The channel's defaults for `kind`; empty when it set none. Read on every job
    command's ack, so without an ORM session."""
    row = db.read_one(_DEFAULTS, {"channel": channel, "kind": kind})
    return dict(row._mapping) if row else {}


def all_channel_defaults(db: Database, channel: str) -> dict[str, Defaults]:
    """The channel's defaults, by kind."""
    with db.reading() as session:
        rows = session.scalars(select(ChannelDefault).where(ChannelDefault.channel_id == channel))
        return {row.kind: _as_defaults(row) for row in rows}


def _as_defaults(row: ChannelDefault) -> Defaults:
    return {"model": row.model, "effort": row.effort, "tier": row.tier}


def set_channel_defaults(
    db: Database, channel: str, chosen: dict[str, Defaults], *, by: str
) -> None:
    """Replace the channel's defaults for the kinds in `chosen`; a kind with nothing
    chosen keeps no row (its jobs use the kind's own values)."""
    with db.unit() as unit:
        session = unit.session
        session.execute(
            delete(ChannelDefault).where(
                ChannelDefault.channel_id == channel, ChannelDefault.kind.in_(list(chosen))
            )
        )
        for kind, values in chosen.items():
            if any(values.values()):
                session.add(_row(channel, kind, values, by))


def _row(channel: str, kind: str, values: Defaults, by: str) -> ChannelDefault:
    return ChannelDefault(
        channel_id=channel,
        kind=kind,
        model=values.get("model"),
        effort=values.get("effort"),
        tier=values.get("tier"),
        updated_by=by,
        updated_at=utcnow(),
    )


def notify_by_dm(db: Database, user: str) -> bool:
    """Whether `user` asked for their jobs' news by DM."""
    with db.reading() as session:
        return _notify_by_dm(session, user)


def _notify_by_dm(session: Session, user: str) -> bool:
    row = session.get(PersonPreference, user)
    return bool(row and row.notify_by_dm)


def set_notify_by_dm(db: Database, user: str, on: bool) -> None:
    """Record the person's choice (one row per person, made on first use)."""
    with db.unit() as unit:
        row = unit.session.get(PersonPreference, user, with_for_update=True)
        if row is None:
            unit.session.add(PersonPreference(user_id=user, notify_by_dm=on, updated_at=utcnow()))
            return
        row.notify_by_dm, row.updated_at = on, utcnow()
