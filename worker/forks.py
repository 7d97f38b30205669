"""A child forked by a worker dies with it.

RQ runs its scheduler in a forked child. If the worker is killed outright
(`kill -9`, the OOM killer), that child would live on as an orphan holding the
scheduler locks; Linux's parent-death signal ends it with its parent instead.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def end_children_with_this_process() -> None:
    """From now on, every child this process forks gets SIGTERM when the parent dies."""
    if sys.platform != "linux":
        return
    parent = os.getpid()
    os.register_at_fork(after_in_child=lambda: _die_with(parent))


def _die_with(parent: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os.kill(os.getpid(), signal.SIGTERM)
