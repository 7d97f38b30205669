"""`errand run` and `errand run --sandbox` as a terminal sees them: Ctrl-C stops them at
once and quietly, their private Redis never outlives them, a busy port is refused before
anything is touched."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from errand.embedded_redis import MAX_SOCKET_PATH, socket_path
from tests.support.client import HTTP
from tests.support.procs import end_session, free_port, spawn, wait_for

# The 3 s a person waits after Ctrl-C is timed: alone, not beside four busy test workers.
CTRL_C_TIMED = pytest.mark.exclusive
CONSOLE_URL = re.compile(r"errand: console at (http://\S+)")


def _pids_mentioning(marker: str) -> list[int]:
    """Live processes whose command line or environment names `marker` (our tmp path):
    the children and the redis-server of one test's `errand run`, whatever their session."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            text = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in text and state != "Z":
            found.append(int(entry.name))
    return found


def _redis_pids(data: Path) -> list[int]:
    """The private redis-servers under `data`: each runs in its data directory (its socket
    may be elsewhere, when that path is too long for one)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and b"redis-server" in _cmdline(int(entry.name)):
            with contextlib.suppress(OSError):
                if Path(os.readlink(entry / "cwd")).is_relative_to(data):
                    found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """ERRAND_DATA_DIR of one test; whatever it started is killed afterwards."""
    folder = tmp_path / "data"
    yield folder
    for pid in _pids_mentioning(str(folder)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _env(data: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "ERRAND_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "OPENAI_API_KEY": "sk-test",
        "REDIS_URL": "",
        "ERRAND_LOG_LEVEL": "WARNING",
    }


def _lines(log: Path) -> list[str]:
    return log.read_text(errors="replace").splitlines()


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _ctrl_c(process: subprocess.Popen[bytes], log: Path, data: Path) -> tuple[float, list[str]]:
    """SIGINT to the process group, as a terminal does; how long it took, what it printed.
    The private Redis must go last: the worker still uses it while it stops."""
    workers = [p for p in _pids_mentioning(str(data)) if b"errand.cli\x00worker" in _cmdline(p)]
    redis_pid, worker_pid = _redis_pids(data)[0], workers[0]
    before = len(_lines(log))
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    order = []
    while process.poll() is None and time.monotonic() - started < 10:
        order += [pid for pid in (worker_pid, redis_pid) if pid not in order and not _alive(pid)]
        time.sleep(0.01)
    end_session(process)
    process.wait()
    assert order[:1] != [redis_pid], "the private Redis stopped before the worker"
    return time.monotonic() - started, _lines(log)[before:]


@CTRL_C_TIMED
def test_ctrl_c_stops_the_sandbox_quietly(data: Path, tmp_path: Path) -> None:
    log = tmp_path / "sandbox.log"
    port = free_port()
    process = spawn(
        ["-m", "errand.cli", "run", "--sandbox", "--port", str(port)],
        {"ERRAND_DATA_DIR": str(data)},
        log,
    )
    wait_for(lambda: "sandbox ready" in log.read_text(), 30, "the sandbox never got ready")
    assert _redis_pids(data), "the sandbox runs a private redis-server"
    took, printed = _ctrl_c(process, log, data)
    assert took < 3, f"Ctrl-C took {took:.1f} s"
    assert len(printed) <= 5, "\n".join(printed[:40])
    assert "Traceback" not in "\n".join(printed)
    wait_for(lambda: not _redis_pids(data), 3, "redis-server outlived the sandbox")


def _workers_registered(data: Path) -> bool:
    """The worker of `errand run` has registered with RQ on the private Redis."""
    sock = socket_path(data)
    if not sock.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(sock)).scard("rq:workers"))
    except redis.RedisError:
        return False


def _errand_run(data: Path, tmp_path: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    process = spawn(["-m", "errand.cli", "run"], {**_env(data, tmp_path), **env}, log)
    try:
        wait_for(lambda: _workers_registered(data), 30, "the worker never registered")
    except AssertionError:
        end_session(process)
        process.wait()
        raise
    return process


@CTRL_C_TIMED
def test_ctrl_c_stops_errand_run_quietly(data: Path, tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    process = _errand_run(data, tmp_path, log, ERRAND_LOG_LEVEL="INFO")
    took, printed = _ctrl_c(process, log, data)
    assert took < 3, f"Ctrl-C took {took:.1f} s"
    assert len(printed) <= 5, "\n".join(printed[:40])
    assert "Traceback" not in "\n".join(printed)
    wait_for(lambda: not _redis_pids(data), 3, "redis-server outlived errand run")


def test_errand_run_serves_the_console_on_loopback_and_prints_its_url(
    data: Path, tmp_path: Path
) -> None:
    log = tmp_path / "run.log"
    process = _errand_run(data, tmp_path, log)
    try:
        wait_for(lambda: CONSOLE_URL.search(log.read_text()), 30, "no console URL printed")
        url = CONSOLE_URL.search(log.read_text())[1]  # type: ignore[index]
        assert url.startswith("http://127.0.0.1:")
        assert "Errand console" in HTTP.get(url, timeout=30).text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_the_private_redis_dies_with_a_killed_parent(data: Path, tmp_path: Path) -> None:
    process = _errand_run(data, tmp_path, tmp_path / "run.log")
    assert _redis_pids(data)
    process.kill()  # the parent alone, as the OOM killer would: no clean-up runs
    process.wait(timeout=5)
    wait_for(lambda: not _redis_pids(data), 5, "redis-server outlived its parent")


@pytest.mark.exclusive  # beside another `errand run`, the two race for the console's port
def test_errand_run_starts_where_the_data_directory_is_too_deep_for_a_socket(
    tmp_path: Path,
) -> None:
    deep = tmp_path / ("deep" * 25) / "data"  # past the 107 bytes a socket's address holds
    process = _errand_run(deep, tmp_path, tmp_path / "run.log")
    try:
        assert len(str(socket_path(deep))) <= MAX_SOCKET_PATH
        assert _redis_pids(deep)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    wait_for(lambda: not _redis_pids(deep), 5, "redis-server outlived errand run")


@pytest.mark.exclusive  # beside another `errand run`, the two race for the console's port
def test_a_bot_that_cannot_start_stops_errand_run_and_its_redis(data: Path, tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    env = {**_env(data, tmp_path), "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": ""}
    process = spawn(["-m", "errand.cli", "run"], env, log)
    try:
        code = process.wait(timeout=25)
    finally:
        end_session(process)
    assert code != 0
    assert "SLACK_SIGNING_SECRET is not set" in log.read_text()
    wait_for(lambda: not _redis_pids(data), 3, "redis-server outlived the failed start")


def test_a_busy_port_is_refused_before_anything_is_touched(data: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        home = data / f"sandbox-{port}"
        home.mkdir(parents=True)
        (home / "errand.db").write_text("the running sandbox's jobs")
        done = subprocess.run(
            [sys.executable, "-m", "errand.cli", "run", "--sandbox", "--port", str(port)],
            check=False,
            env={**os.environ, "ERRAND_DATA_DIR": str(data)},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode != 0
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and "--port" in lines[0], lines
    assert (home / "errand.db").read_text() == "the running sandbox's jobs"
    assert not _redis_pids(data)
