"""job options (model, effort, tier, and why); channel defaults; person preferences

A job records what it runs with and where each value came from (the request, its
channel's defaults, its kind), so its card can say so. Channels keep default options per
kind (`/errand settings`), and people choose how they are told of their jobs' news.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("options", sa.JSON(), nullable=True))
    op.create_table(
        "channel_defaults",
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("effort", sa.String(length=16), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", "kind", name=op.f("pk_channel_defaults")),
    )
    op.create_table(
        "person_preferences",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("notify_by_dm", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_person_preferences")),
    )


def downgrade() -> None:
    op.drop_table("person_preferences")
    op.drop_table("channel_defaults")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("options")
