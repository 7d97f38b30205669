"""PostgreSQL and Redis for a test run: the configured ones when they answer, else private ones.

A machine with nothing running tests itself: when nothing listens at `ERRAND_TEST_PG` or
`ERRAND_TEST_REDIS`, a private server is started for the run, in a temporary directory, on
a free loopback port (PostgreSQL with trust auth and no fsync: its data is thrown away),
and the variable is pointed at it. When the services answer (CI starts the machine's
own), they are used and nothing is started.

Private servers are started once per run, never per pytest-xdist worker: `scripts/test`
calls `python -m tests.support.services up` before both pytest phases and `down` after
them; a bare `pytest` does the same from conftest.py in its controller process, and its
workers inherit the variables. A run killed before `down` leaves its servers behind; the
next start stops those whose owning process is gone.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from errand.embedded_redis import redis_server_binary

PG_ENV = "ERRAND_TEST_PG"
REDIS_ENV = "ERRAND_TEST_REDIS"
DIR_ENV = "ERRAND_TEST_SERVICES_DIR"  # set while this run's private servers exist
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_DEFAULT = "redis://127.0.0.1:6379"
PREFIX = "errand-test-services-"
# Settings for a server whose data nobody keeps: durability off makes the suite faster.
PG_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def pg_url() -> str:
    """The PostgreSQL admin URL the tests use now (a private one once started)."""
    return os.environ.get(PG_ENV, PG_DEFAULT)


def redis_base() -> str:
    """The Redis URL, without a DB number, the tests use now."""
    return os.environ.get(REDIS_ENV, REDIS_DEFAULT)


def answers(url: str, default_port: int) -> bool:
    """Whether anything accepts a TCP connection at the URL's host and port.

    A URL without a host (a Unix socket) is taken as configured on purpose: never replaced.
    """
    parts = urlsplit(url)
    if not parts.hostname:
        return True
    try:
        with socket.create_connection((parts.hostname, parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def start_missing(owner: int, backends: list[str]) -> dict[str, str]:
    """Start a private server for each service that does not answer.

    Returns the variables to set for the run (empty when everything answered); `owner`
    is the process whose death makes the servers stale.
    """
    sweep_stale()
    need_pg = "postgresql" in backends and not answers(pg_url(), 5432)
    need_redis = not answers(redis_base(), 6379)
    if not (need_pg or need_redis):
        return {}
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    root.chmod(0o755)  # the postgres user must reach its directory inside
    (root / "owner").write_text(str(owner))
    started = {DIR_ENV: str(root)}
    try:
        if need_pg:
            started[PG_ENV] = start_postgres(root / "pg", pg_url())
        if need_redis:
            started[REDIS_ENV] = start_redis(root / "redis")
    except BaseException:
        stop_dir(root)
        raise
    return started


# -- PostgreSQL ---------------------------------------------------------------------------


def pg_bindir() -> Path:
    """Where initdb and pg_ctl are: PATH, else the newest of Debian's versioned folders."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version)
    if versions:
        return versions[-1].parent
    raise RuntimeError(
        "no PostgreSQL answers at ERRAND_TEST_PG and no PostgreSQL server binaries are "
        "installed (apt-get install postgresql), or set ERRAND_TEST_BACKENDS=sqlite"
    )


def _version(initdb: Path) -> tuple[int, ...]:
    name = initdb.parents[1].name
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def _server_user() -> pwd.struct_passwd | None:
    """initdb refuses root: as root, the server runs as `postgres` (else `nobody`)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and there is no postgres or nobody user to run initdb")


def _as(user: pwd.struct_passwd | None, command: list[str]) -> None:
    """Run a PostgreSQL tool as the server's user; its output only when it fails."""
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",  # the server's user may not be allowed into ours
        user=None if user is None else user.pw_uid,
        group=None if user is None else user.pw_gid,
        extra_groups=None if user is None else [],
    )
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed:\n{done.stdout}{done.stderr}")


def start_postgres(home: Path, configured: str) -> str:
    """initdb a throwaway cluster in `home`, start it on a free port, create the test database.

    Returns the admin URL: the configured one with host and port replaced.
    """
    parts = urlsplit(configured)
    db_user = parts.username or "postgres"
    database = parts.path.lstrip("/") or "postgres"
    user = _server_user()
    home.mkdir()
    if user is not None:
        os.chown(home, user.pw_uid, user.pw_gid)
    bindir, data = pg_bindir(), home / "data"
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", db_user, "-A", "trust", "-E", "UTF8"]
    _as(user, [*initdb, "--locale=C.UTF-8", "--no-sync", "--no-instructions"])
    port = _start_on_free_port(user, bindir, home)
    _create_database(port, db_user, database)
    return f"{parts.scheme}://{db_user}@127.0.0.1:{port}/{database}"


def _start_on_free_port(user: pwd.struct_passwd | None, bindir: Path, home: Path) -> int:
    """pg_ctl start on a free port; a port taken in the meantime gets another try."""
    data = home / "data"
    base = (data / "postgresql.conf").read_text()
    for attempt in range(3):
        port = free_port()
        settings = {**PG_SETTINGS, "port": str(port), "unix_socket_directories": f"'{home}'"}
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        (data / "postgresql.conf").write_text(base + lines)
        try:
            _as(user, [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "start"])
        except RuntimeError:
            if attempt == 2:
                raise
            continue
        return port
    raise AssertionError("unreachable")


def _create_database(port: int, user: str, database: str) -> None:
    if database == "postgres":
        return
    with psycopg.connect(
        host="127.0.0.1", port=port, user=user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _pg_command(home: Path, action: str, *extra: str) -> None:
    """pg_ctl ACTION on a private cluster, as the user that owns it."""
    data = home / "data"
    owner = data.stat().st_uid
    user = pwd.getpwuid(owner) if os.geteuid() == 0 and owner != 0 else None
    _as(user, [str(pg_bindir() / "pg_ctl"), "-D", str(data), "-w", *extra, action])


def restart_postgres() -> None:
    """Restart the PostgreSQL the tests use: this run's private one, else the machine's."""
    root = os.environ.get(DIR_ENV)
    if root and (Path(root) / "pg" / "data").is_dir():
        home = Path(root) / "pg"
        _pg_command(home, "restart", "-m", "fast", "-l", str(home / "log"))
        return
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        timeout=120,
        capture_output=True,
    )


# -- Redis --------------------------------------------------------------------------------


def start_redis(home: Path) -> str:
    """A daemonized redis-server keeping nothing on disk, on a free port; returns its URL."""
    home.mkdir()
    port = free_port()
    where = [
        "--dir",
        str(home),
        "--logfile",
        str(home / "redis.log"),
        "--pidfile",
        str(home / "redis.pid"),
    ]
    volatile = ["--save", "", "--appendonly", "no"]
    command = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", *volatile]
    subprocess.run([*command, *where, "--daemonize", "yes"], check=True, timeout=30)
    url = f"redis://127.0.0.1:{port}"
    _wait(lambda: answers(url, port), 20, f"the private redis-server did not start ({home})")
    return url


def _stop_redis(home: Path) -> None:
    pidfile = home / "redis.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip() or 0)
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        _wait(lambda: not _alive(pid), 10, "", fail=False)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


# -- stopping, stale runs, the command line -----------------------------------------------


def stop_dir(root: Path) -> None:
    """Stop whatever private server runs from `root`, and remove it."""
    if (root / "pg" / "data" / "postmaster.pid").exists():
        try:
            _pg_command(root / "pg", "stop", "-m", "immediate")
        except RuntimeError as exc:
            print(f"errand tests: {exc}", file=sys.stderr)
    _stop_redis(root / "redis")
    shutil.rmtree(root, ignore_errors=True)


def sweep_stale() -> None:
    """Stop the servers of earlier runs whose owning process is gone (a killed run)."""
    for root in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = int((root / "owner").read_text())
        except (OSError, ValueError):
            continue
        if not _alive(owner):
            stop_dir(root)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(check: Callable[[], bool], timeout: float, message: str, *, fail: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    if fail:
        raise RuntimeError(message)


def backends() -> list[str]:
    """The database backends the run tests (`ERRAND_TEST_BACKENDS`)."""
    return os.environ.get("ERRAND_TEST_BACKENDS", "sqlite,postgresql").split(",")


def main(argv: list[str]) -> int:
    """`up`: start what is missing and print `export` lines for the shell; `down`: stop them."""
    if argv == ["up"]:
        started = start_missing(owner=os.getppid(), backends=backends())
        for name, value in started.items():
            print(f"export {name}={shlex.quote(value)}")
            if name != DIR_ENV:
                print(f"errand tests: {name}={value} (private, for this run)", file=sys.stderr)
        return 0
    if argv == ["down"]:
        root = os.environ.get(DIR_ENV)
        if root:
            stop_dir(Path(root))
        return 0
    print("usage: python -m tests.support.services up|down", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
