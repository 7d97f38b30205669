"""Alembic environment: the URL comes from the caller's config, the schema from our models."""

from __future__ import annotations

from alembic import context

import models.job
import models.job_file
import models.preferences
import models.turn  # noqa: F401
from models.base import Base
from models.db import make_engine

config = context.config


def run_migrations() -> None:
    """Online only: Errand always has a database to talk to."""
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
