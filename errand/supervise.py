"""Child processes of `errand run`: start them, wait for the first to end (or a signal),
then stop the others gracefully."""

from __future__ import annotations

import signal
import subprocess
import time


def supervise(children: list[subprocess.Popen[bytes]]) -> int:
    """Forward SIGTERM and SIGINT to the children; return the worst exit code."""

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.terminate()
    return max(child.wait() for child in children)
