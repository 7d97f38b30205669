"""A batch job's files: the rows it was given and, once it ends, its results file.

Kept in a table of their own so the job list and the follow pulse, which read `jobs` for
every job, never carry a 50,000-row file; only the worker that launches a batch and the
notifier that posts its results read one.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class JobFile(Base):
    """One file of a job, by name: `rows` (gzip'd JSON, see models.rows.pack_rows) or
    `results` (the CSV posted in the job's thread)."""

    __tablename__ = "job_files"
    __table_args__ = (UniqueConstraint("job_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    name: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(String(255))
    row_count: Mapped[int] = mapped_column(Integer)
    # Characters the rows put before the model, all rows together: prices the estimate.
    input_chars: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once purged
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


job_files = cast(Table, JobFile.__table__)
