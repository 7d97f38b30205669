"""Child processes that belong to this one: out of the terminal's reach, and gone with it.

A terminal's Ctrl-C signals its whole foreground process group at once. Started in a
session of their own, our children hear only us, so we stop them in order: the bot and
the worker first, then the Redis they use (had Redis died first, the worker would log
hundreds of "cannot reach Redis" lines on its way out). And since a parent killed
outright (SIGKILL, the OOM killer) runs no clean-up at all, Linux is asked to send each
child SIGTERM when its parent dies (prctl PR_SET_PDEATHSIG): a private redis-server
never outlives `errand run`. Elsewhere the children only get their own session.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def popen(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    quiet: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `command` in a session of its own, to be signalled when this process dies.

    The death signal follows the *thread* that forked the child, so call this from the
    main thread (as `errand run` does), never from a short-lived one."""
    return subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL if quiet else None,
        start_new_session=True,
        preexec_fn=partial(_die_with, os.getpid()),  # noqa: PLW1509 (main thread, see above)
    )


def _die_with(parent: int) -> None:
    """Runs in the child between fork and exec: ask for SIGTERM when the parent dies,
    and leave at once if it died before we asked."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(1)


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM and wait; kill what does not stop within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
