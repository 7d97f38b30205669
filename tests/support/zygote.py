"""A process that has imported Errand once and forks a real `errand bot` or `errand worker`
from that state for each test that asks, as gunicorn's `preload_app` does for its workers.

Starting a fresh interpreter for each of the suite's bots and workers cost 1.2-1.5 s of
CPU each (mostly importing openai, SQLAlchemy, Bolt and RQ), several hundred times a run
on two cores. The child is the real command (`python -m errand.cli …` run by `runpy`),
in a session of its own, with exactly the environment and log it was given; only the
imports are shared. It serves `tests.support.forks` over stdin and stdout, one JSON line
a request, and being single-threaded it can fork safely.

Run as `python -m tests.support.zygote`.
"""

from __future__ import annotations

import json
import os
import random
import runpy
import sys
from typing import Any

# What `errand bot` and `errand worker` import: loaded here once, shared by every fork.
import errand.bot_command
import errand.worker_command  # noqa: F401
from sandbox.processes import ROOT

Request = dict[str, Any]


def serve() -> Request | None:
    """Answer requests until stdin closes; in a forked child, return its request."""
    exited: dict[int, int] = {}
    for line in sys.stdin:
        request: Request = json.loads(line)
        if request["op"] == "spawn":
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                return request
            answer: Any = pid
        else:
            answer = _status(int(request["pid"]), exited)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return None


def _status(pid: int, exited: dict[int, int]) -> int | None:
    """The child's exit code as Popen gives it (-N: killed by signal N), None if it runs."""
    if pid not in exited:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not this zygote's (an earlier one died): alive or gone
            return None if _alive(pid) else -1
        if done == 0:
            return None
        exited[pid] = os.waitstatus_to_exitcode(status)
    return exited[pid]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def become(request: Request) -> None:
    """Turn this fork into `python ARGS…` as `subprocess.Popen` would have started it."""
    os.setsid()
    log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(ROOT)
    random.seed()  # not the state every other fork also has
    module, *rest = request["args"][1:]
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    child = serve()
    if child is not None:
        become(child)
