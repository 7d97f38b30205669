"""Real processes for the tests: start them, wait for them, stop them, keep their logs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from sandbox import processes
from sandbox.processes import ROOT, free_port
from tests.support import forks

__all__ = [
    "ROOT",
    "end_session",
    "free_port",
    "session_alive",
    "spawn",
    "stop",
    "wait_for",
    "wait_http",
]


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `python args...` in a session of its own, so a test can stop its whole tree.
    Bots and workers are forked from one that has imported them (`tests.support.zygote`)."""
    if forks.forkable(args, env):
        return forks.Forked(args, {**os.environ, **env}, log)
    return processes.spawn(args, env, log, new_session=True)


def stop(process: subprocess.Popen[bytes], *, kill: bool = False, timeout: float = 15) -> None:
    """SIGTERM (or SIGKILL) and wait; a process that ignores SIGTERM is killed."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def session_alive(process: subprocess.Popen[bytes]) -> bool:
    """Whether anything started by `process` (its session, see `spawn`) still runs."""
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def end_session(process: subprocess.Popen[bytes]) -> None:
    """Kill whatever `process` left behind, so no test leaks into the next."""
    if session_alive(process):
        os.killpg(process.pid, signal.SIGKILL)


def wait_http(url: str, timeout: float = 20) -> None:
    """Until `url` answers at all."""
    wait_for(lambda: processes.answers(url), timeout, f"{url} did not come up")


def wait_for(check: Callable[[], object], timeout: float, message: str, every: float = 0.1) -> None:
    """Poll `check` until truthy; fail the test with `message` and the last value otherwise."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return
        time.sleep(every)
    raise AssertionError(f"{message} (last: {last!r})")
