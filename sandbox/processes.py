"""Starting local processes and waiting for them: shared by sandbox mode, tests and benchmarks."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def spawn(
    args: list[str], env: dict[str, str], log: Path, *, new_session: bool = False
) -> subprocess.Popen[bytes]:
    """`python args…` from the repository root, with our environment plus `env`, output in `log`."""
    with log.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )


@functools.cache
def _prober() -> httpx.Client:
    """One client for every look (a new one loads every CA certificate: ~20 ms of CPU),
    opening a connection for each, as a fresh client would."""
    return httpx.Client(timeout=1, limits=httpx.Limits(max_keepalive_connections=0))


def answers(url: str) -> bool:
    """True once anything answers HTTP at `url`."""
    try:
        _prober().get(url)
    except httpx.HTTPError:
        return False
    return True


def wait_http(url: str, timeout: float = 30) -> bool:
    """Wait until `url` answers; False if it never did within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(url):
            return True
        time.sleep(0.1)
    return False
