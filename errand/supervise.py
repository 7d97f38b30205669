"""Child processes of `errand run`: start them, wait for the first to end (or a signal),
then stop the others gracefully."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from errand import tether


def spawn(
    commands: list[list[str]], env: dict[str, str], cwd: Path | None = None
) -> list[subprocess.Popen[bytes]]:
    """`python ARGS...` children, each tethered to this process (see `errand.tether`)."""
    return [tether.popen([sys.executable, *command], env=env, cwd=cwd) for command in commands]


def supervise(children: list[subprocess.Popen[bytes]]) -> int:
    """Until a child ends or we are asked to stop; return the worst exit code.

    SIGTERM and a terminal's Ctrl-C (SIGINT) are passed on to each child, once: they run
    in sessions of their own, so only we signal them. Each keeps its meaning: SIGTERM
    lets the bot finish the requests in flight, Ctrl-C stops it at once."""

    def stop(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while all(child.poll() is None for child in children):
        time.sleep(0.2)
    stop(signal.SIGTERM, None)
    for child in children:
        tether.stop(child, timeout=15)
    return max(child.returncode for child in children)
