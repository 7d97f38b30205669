"""turns (follow-ups in a job's thread); a card's own ts apart from its thread's

A job asked by mentioning Errand has its card as a reply in the thread it was asked in,
so `thread_ts` (the thread) and `card_ts` (the card, edited in place) differ; for every
job posted before, they are the same message. Each job gets its first turn from its own
question and answer, so every job lists its turns.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_TURNS = """
INSERT INTO turns (job_id, number, actor, input_text, response_id, status, output_text,
                   cost_usd, created_at, finished_at)
SELECT jobs.id, 1, jobs.requested_by, jobs.input_text,
       (SELECT attempts.response_id FROM attempts
         WHERE attempts.job_id = jobs.id AND attempts.number = jobs.attempts),
       jobs.status, jobs.output_text, jobs.cost_usd, jobs.created_at, jobs.finished_at
FROM jobs
"""


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_ts", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("asked_ts", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("turn", sa.Integer(), server_default="1", nullable=False))
        batch_op.create_index("ix_jobs_thread", ["channel_id", "thread_ts"], unique=False)
    op.execute("UPDATE jobs SET card_ts = thread_ts")
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("input_text", sa.Text(), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("previous_response_id", sa.String(length=128), nullable=True),
        sa.Column("response_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("output_text", sa.Text(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("finished_at", models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_turns_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turns")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_turns_idempotency_key")),
        sa.UniqueConstraint("job_id", "number", name=op.f("uq_turns_job_id")),
    )
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_turns_job_id"), ["job_id"], unique=False)
    op.execute(FIRST_TURNS)


def downgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_turns_job_id"))
    op.drop_table("turns")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_thread")
        for name in ("turn", "asked_ts", "card_ts"):
            batch_op.drop_column(name)
