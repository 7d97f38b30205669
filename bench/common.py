"""What every benchmark needs: its own database and Redis DB, stand-ins, process sampling."""

from __future__ import annotations

import base64
import os
import platform
import re
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from sqlalchemy import create_engine, text

from models.migrate import upgrade
from sandbox import processes
from sandbox.processes import free_port, spawn

PG = os.environ.get("ERRAND_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("ERRAND_BENCH_REDIS", "redis://127.0.0.1:6379/9")
SLACK_SECRET = "errand-bench-signing-secret"
SLACK_TOKEN = "xoxb-bench"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"errand-bench-webhook-secret-0001").decode()


@contextmanager
def own_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one run, dropped afterwards."""
    name = f"errand_bench_{secrets.token_hex(3)}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def own_sqlite() -> Iterator[str]:
    """A fresh SQLite file for one run, as `errand run` uses by default."""
    with tempfile.TemporaryDirectory(prefix="errand-bench-db-") as folder:
        yield f"sqlite:///{folder}/errand.db"


def own(database: str) -> AbstractContextManager[str]:
    """`own_sqlite()` or `own_database()` (PostgreSQL), by name."""
    return own_sqlite() if database == "sqlite" else own_database()


def wait_http(url: str, timeout: float = 30) -> None:
    if not processes.wait_http(url, timeout):
        raise SystemExit(f"bench: {url} did not come up")


def _start(
    args: list[str], env: dict[str, str], log: Path, health: str
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a server on a free port (appended as `--port N`) and wait until it is healthy."""
    port = free_port()
    process = spawn([*args, "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + health)
    return process, url


def start_openai(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    return _start(["-m", "sandbox.openai_api"], {}, work / "openai.log", "/_sandbox/health")


def start_slack(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    return _start(["-m", "sandbox.slack_api"], {}, work / "slack.log", "/_sandbox/health")


@dataclass(frozen=True)
class StandIns:
    """Both stand-ins of one run, and the folder their logs go to."""

    work: Path
    openai: subprocess.Popen[bytes]
    openai_url: str
    slack: subprocess.Popen[bytes]
    slack_url: str


def fresh_stand_ins(url: str, name: str, durations: tuple[float, float]) -> StandIns:
    """A migrated database, an empty Redis DB, and both stand-ins started, the provider
    answering within `durations` seconds (after a second in its queue)."""
    upgrade(url)
    redis.Redis.from_url(REDIS).flushdb()
    work = Path(tempfile.mkdtemp(prefix=f"errand-bench-{name}-"))
    openai, openai_url = start_openai(work)
    slack, slack_url = start_slack(work)
    config = {
        "duration_min": durations[0],
        "duration_max": durations[1],
        "queue_seconds": 1.0,
        "request_log_limit": 200_000,  # every call of a 2,000-job run, for calls per job
    }
    httpx.post(openai_url + "/_sandbox/config", json=config)
    return StandIns(work, openai, openai_url, slack, slack_url)


def errand_env(url: str, openai_url: str, slack_url: str) -> dict[str, str]:
    """What a bench's worker (and bot) is started with: its database, Redis, the stand-ins."""
    return {
        "DATABASE_URL": url,
        "REDIS_URL": REDIS,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": openai_url + "/v1",
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_API_URL": slack_url + "/api/",
    }


def start_bot(env: dict[str, str], work: Path) -> tuple[subprocess.Popen[bytes], str]:
    return _start(["-m", "errand.cli", "bot"], env, work / "bot.log", "/healthz")


def hook_up(env: dict[str, str], work: Path, openai_url: str) -> subprocess.Popen[bytes]:
    """Webhooks on: the bot verifies deliveries the provider stand-in signs and sends it.
    Sets OPENAI_WEBHOOK_SECRET in `env` (the worker's too) and returns the bot."""
    env["OPENAI_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    bot, bot_url = start_bot(env, work)
    httpx.post(
        openai_url + "/_sandbox/config",
        json={"webhook_url": bot_url + "/openai/webhook", "webhook_secret": WEBHOOK_SECRET},
    ).raise_for_status()
    return bot


def stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def pct(values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank), rounded for printing."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)], 3)


@dataclass
class Sampler:
    """RSS and CPU of one process, read from /proc."""

    pid: int
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    rss_at: list[tuple[int, float]] = field(default_factory=list)
    pss_at: list[tuple[int, float]] = field(default_factory=list)

    def sample(self, in_flight: int) -> None:
        rss, pss = self.rss_mb(), self.pss_mb()
        self.peak_rss_mb = max(self.peak_rss_mb, rss)
        self.peak_pss_mb = max(self.peak_pss_mb, pss)
        self.rss_at.append((in_flight, rss))
        self.pss_at.append((in_flight, pss))

    def pss_mb(self) -> float:
        """Proportional set size: pages shared with other processes count a share each."""
        try:
            for line in Path(f"/proc/{self.pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def rss_mb(self) -> float:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)


def cpu_seconds(pid: int) -> float:
    """User and system CPU of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its children (gunicorn's workers run under its arbiter)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []
    return cpu_seconds(pid) + sum(cpu_seconds(kid) for kid in kids)


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot: the machine's share of a run."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, object]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# A result's first line, after the requester's mention when Errand tells them in the thread.
RESULT = re.compile(r"^(?:<@\w+> )?Result of job (\w+)")


def result_job(text: str) -> str | None:
    """The job ID a "Result of job …" reply is for, or None for any other message."""
    found = RESULT.match(text)
    return found[1] if found else None
