"""Headless Chromium for browser tests, and `errand run --sandbox` started as a user would.

Playwright drives Debian's `chromium` (no browser download): on a fresh machine the
setup installs it with apt-get, and skips with the reason only when that is impossible.
The sandbox is the README's command run as a subprocess in its own session, so its whole
process tree (bot, worker, private Redis) can be checked and stopped at teardown.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.procs import ROOT, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "sandbox-ui"
READY = re.compile(r"sandbox ready at (http://\S+)")
# Settings that would point the sandbox at real services; a user's shell may have them.
REAL_SERVICES = ("REDIS_URL", "DATABASE_URL", "SLACK_APP_TOKEN", "OPENAI_WEBHOOK_SECRET")


def chromium_path() -> str:
    """Debian's chromium, installed with apt-get when missing; skip only if that fails."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    problem = _apt_install("chromium")
    if CHROMIUM.exists():
        return str(CHROMIUM)
    pytest.skip(f"headless Chromium is missing and could not be installed: {problem}")


def _apt_install(package: str) -> str:
    """Run apt-get update and install; returns why not, or "" when it ran."""
    if shutil.which("apt-get") is None:
        return "there is no apt-get on this machine"
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if prefix and shutil.which("sudo") is None:
        return "apt-get needs root and sudo is not installed"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", package]):
        done = subprocess.run(
            [*prefix, *command], env=env, capture_output=True, text=True, timeout=1200, check=False
        )
        if done.returncode != 0:
            return f"`{' '.join(command)}` failed: {done.stderr.strip()[-300:]}"
    return ""


@dataclass
class SandboxRun:
    """`errand run --sandbox` in its own session; `url` is the one URL it printed."""

    process: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def errand_command() -> list[str]:
    """The installed `errand` script next to this Python, as the README runs it."""
    script = Path(sys.executable).with_name("errand")
    return [str(script)] if script.exists() else [sys.executable, "-m", "errand.cli"]


def start_sandbox(workdir: Path, *extra: str, timeout: float = 120) -> SandboxRun:
    """Start it from `workdir` (its data there too) on a free port; wait for the URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in REAL_SERVICES}
    env["ERRAND_DATA_DIR"] = str(workdir / "data")
    log = workdir / "sandbox.log"
    command = [*errand_command(), "run", "--sandbox", "--port", str(free_port()), *extra]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = SandboxRun(process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = READY.search(run.output())
        if found:
            run.url = found.group(1)
            return run
        if process.poll() is not None:
            raise AssertionError(f"errand run --sandbox exited at start:\n{run.output()[-3000:]}")
        time.sleep(0.2)
    stop_sandbox(run)
    raise AssertionError(f"errand run --sandbox printed no URL:\n{run.output()[-3000:]}")


def stop_sandbox(run: SandboxRun, timeout: float = 40) -> list[int]:
    """SIGTERM as Ctrl-C would; returns the pids still alive after `timeout` (then killed)."""
    group = run.process.pid  # its own session: the group holds bot, worker and Redis too
    if run.process.poll() is None:
        run.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _members(group):
        run.process.poll()  # reap it, so it does not linger as a zombie member
        time.sleep(0.2)
    left = _members(group)
    if left:
        os.killpg(group, signal.SIGKILL)
    if run.process.poll() is None:
        run.process.wait(timeout=10)
    return left


def _members(group: int) -> list[int]:
    """Live (non-zombie) processes of a process group, read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def save_screenshot(page: object, name: str) -> Path:
    """Keep what the browser showed when a test failed, in test-artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
