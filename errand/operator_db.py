"""The database an operator's `errand jobs ...` or `errand notices` reads: DATABASE_URL
when it is set; else `./errand.db` when `errand run` made one here; else the sandbox
that runs under ERRAND_DATA_DIR (its database and its Redis), when exactly one does.
A look never creates a database: a SQLite file that is not there is an error that says
what to do, not an empty file left behind."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from errand import sandbox_home
from errand.parts import Parts, connect
from models.errors import ErrandError
from models.settings import Settings


def operator_parts(settings: Settings) -> Parts:
    chosen = settings if "database_url" in settings.model_fields_set else _found(settings)
    _must_exist(chosen.database_url)
    return connect(chosen)


def _found(settings: Settings) -> Settings:
    """`./errand.db`, else the one running sandbox (its Redis is found in its folder)."""
    if _sqlite_file(settings.database_url).exists():
        return settings
    running = sandbox_home.running(Path(settings.data_dir))
    if len(running) > 1:
        names = ", ".join(folder.name for folder in running)
        raise ErrandError(
            f"several sandboxes run ({names}); pick one with "
            f"DATABASE_URL={sandbox_home.database_url(running[0])}"
        )
    if not running:
        return settings
    return settings.model_copy(
        update={
            "database_url": sandbox_home.database_url(running[0]),
            "data_dir": str(running[0]),
        }
    )


def _sqlite_file(url: str) -> Path:
    return Path(make_url(url).database or "")


def _must_exist(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    if not Path(str(parsed.database)).exists():
        raise ErrandError(
            f"no database at {parsed.database}: run `errand db upgrade` to make one, or set "
            "DATABASE_URL=... to the one Errand uses (a running `errand run --sandbox` is "
            "found by itself)"
        )
