"""Bots and workers forked from `tests.support.zygote`, each as a `subprocess.Popen`.

The fork is the zygote's child, not this process's, so its state is asked of the zygote;
signals go to it directly. Everything else a test does with a Popen works unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sandbox.processes import ROOT

# Fork only what is started hundreds of times a run; a metrics directory is read at
# import time (prometheus_client), so a process given one starts fresh.
FORKED = (["-m", "errand.cli", "bot"], ["-m", "errand.cli", "worker"])
FRESH_IF = "PROMETHEUS_MULTIPROC_DIR"


class Zygote:
    """The zygote of this test process, started at first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def ask(self, request: dict[str, Any]) -> Any:
        with self._lock:
            process = self._running()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            return json.loads(process.stdout.readline())

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.zygote"],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self._process


ZYGOTE = Zygote()


def forkable(args: list[str], env: dict[str, str]) -> bool:
    return any(args[: len(start)] == start for start in FORKED) and FRESH_IF not in env


class Forked(subprocess.Popen[bytes]):
    """`python ARGS…` forked by the zygote, in a session of its own, output in `log`."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        # Popen's own __init__ would start a process: only the fields it reads are set.
        self.args = [sys.executable, *args]
        self.stdin = self.stdout = self.stderr = None
        self.returncode = None
        self._child_created = False
        self._waitpid_lock = threading.Lock()
        self._sigint_wait_secs = 0.25
        self.pid = int(ZYGOTE.ask({"op": "spawn", "args": args, "env": env, "log": str(log)}))

    def _internal_poll(self, *args: Any, **kwargs: Any) -> int | None:
        if self.returncode is None:
            self.returncode = ZYGOTE.ask({"op": "status", "pid": self.pid})
        return self.returncode

    def _wait(self, timeout: float | None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._internal_poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode
