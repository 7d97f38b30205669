"""Where a sandbox keeps its files: `<ERRAND_DATA_DIR>/sandbox-<PORT>/`, one folder per
port, so two sandboxes on two ports never share a database or a Redis socket, and an
operator's `errand jobs ...` can find the one that runs."""

from __future__ import annotations

import socket
from pathlib import Path

from errand import embedded_redis
from models.errors import ErrandError

DATABASE = "errand.db"


def home(data_dir: Path, port: int) -> Path:
    return (data_dir / f"sandbox-{port}").resolve()


def database_url(folder: Path) -> str:
    return f"sqlite:///{folder / DATABASE}"


def refuse_busy(host: str, port: int) -> None:
    """Refuse a port something already listens on, before anything is touched: the
    sandbox there keeps its database, its socket and its Redis."""
    with socket.socket() as probe:
        # As the page's server will bind it: a port left in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ErrandError(
                f"--port {port}: {host}:{port} is in use ({exc.strerror}); "
                "choose another --port (0 picks a free one)"
            ) from exc


def fresh(folder: Path) -> Path:
    """The folder, emptied of the last run's database (Slack forgot it anyway)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"{DATABASE}*"):
        stale.unlink()
    return folder


def running(data_dir: Path) -> list[Path]:
    """The folders of the sandboxes that run now: a database, and a Redis that answers."""
    return [
        folder
        for folder in sorted(data_dir.glob("sandbox-*"))
        if (folder / DATABASE).exists() and embedded_redis.running_url(folder)
    ]
