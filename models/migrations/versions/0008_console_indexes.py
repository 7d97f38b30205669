"""console indexes: the job list and counts read from indexes alone (by creation, by
status), events by action, notices by when they were given up or delivered

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTING = ["created_at", "id", "status", "kind", "lane", "cost_usd", "requested_by", "channel_id"]
INDEXES = (
    ("ix_jobs_listing", "jobs", LISTING),
    ("ix_jobs_status_created", "jobs", ["status", "created_at", "id"]),
    ("ix_events_action", "events", ["action", "to_status", "at"]),
    ("ix_notices_given_up", "notices", ["given_up_at"]),
    ("ix_notices_delivered", "notices", ["delivered_at", "milestone", "tries", "job_id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
