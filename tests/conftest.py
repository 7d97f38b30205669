"""Fixtures: a fresh database (SQLite and PostgreSQL), a Redis DB of the tests' own, stand-ins."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from models.migrate import upgrade
from tests.support import services
from tests.support.procs import free_port, spawn, stop, wait_http
from tests.support.stack import OpenAISandbox, Stack

# Each pytest-xdist worker (gw0, gw1, ...) takes the next Redis DB, so none flushes another's.
REDIS_DB = int(os.environ.get("ERRAND_TEST_REDIS_DB", "11")) + int(
    os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0
)
BACKENDS = services.backends()
PRIVATE_SERVICES = pytest.StashKey[dict[str, str]]()


def pytest_configure(config: pytest.Config) -> None:
    """PostgreSQL and Redis that do not answer are started privately, once for the run.

    Only in the controller process: pytest-xdist workers start after this and inherit
    the variables. Under scripts/test they answer already (it starts them before pytest).
    """
    if hasattr(config, "workerinput"):
        return
    started = services.start_missing(owner=os.getpid(), backends=BACKENDS)
    os.environ.update(started)
    config.stash[PRIVATE_SERVICES] = started


def pytest_unconfigure(config: pytest.Config) -> None:
    root = config.stash.get(PRIVATE_SERVICES, {}).get(services.DIR_ENV)
    if root:
        services.stop_dir(Path(root))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test shows the end of each process log it made (bot, workers), so a
    failure seen only in CI can be read from CI's output."""
    report: pytest.TestReport = yield
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and call.when == "call" and isinstance(tmp, Path):
        for log in sorted(tmp.glob("*.log")):
            lines = [
                line
                for line in log.read_text(errors="replace").splitlines()
                if "/healthz" not in line
            ]
            report.sections.append((f"{log.name} (last 30 lines)", "\n".join(lines[-30:])))
    return report


def _pg_admin() -> Engine:
    # No pool: a test may restart the server, and a drop must not reuse a dead connection.
    return create_engine(services.pg_url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per backend for this test process, copied for each test:
    a copy takes milliseconds where running every migration took one to two seconds."""
    made: dict[str, str] = {}
    yield made
    if "postgresql" in made:
        with _pg_admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{made["postgresql"]}" WITH (FORCE)'))


def _template(backend: str, made: dict[str, str], root: Path) -> str:
    """The backend's migrated template, made on first use."""
    if backend not in made:
        if backend == "sqlite":
            made[backend] = str(root / "template.db")
            upgrade(f"sqlite:///{made[backend]}")
        else:
            made[backend] = f"errand_template_{secrets.token_hex(4)}"
            with _pg_admin().connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{made[backend]}"'))
            upgrade(_pg_url(made[backend]))
    return made[backend]


def _pg_url(name: str) -> str:
    return services.pg_url().rsplit("/", 1)[0] + f"/{name}"


def _pg_database(template: str) -> Iterator[str]:
    name = f"errand_test_{secrets.token_hex(4)}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    migrated: dict[str, str],
) -> Iterator[str]:
    """A migrated, empty database of the parametrized backend, dropped afterwards."""
    template = _template(request.param, migrated, tmp_path_factory.getbasetemp())
    if request.param == "sqlite":
        shutil.copyfile(template, tmp_path / "errand.db")
        yield f"sqlite:///{tmp_path / 'errand.db'}"
        return
    yield from _pg_database(template)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The tests' own Redis DB, empty before and after."""
    url = f"{services.redis_base()}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def _stand_in(module: str, log: Path) -> Iterator[str]:
    """A stand-in (`python -m MODULE --port N`) as its own process, as in production."""
    port = free_port()
    process = spawn(["-m", module, "--port", str(port)], {}, log)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/_sandbox/health")
    yield url
    stop(process)


@pytest.fixture(scope="session")
def openai_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAISandbox]:
    """The provider stand-in."""
    for url in _stand_in("sandbox.openai_api", tmp_path_factory.mktemp("openai") / "openai.log"):
        yield OpenAISandbox(url)


@pytest.fixture
def provider(openai_sandbox: OpenAISandbox) -> OpenAISandbox:
    """The stand-in, reset, with short responses (1-2 s) unless a test says otherwise."""
    openai_sandbox.reset()
    openai_sandbox.configure(duration_min=1.0, duration_max=2.0, queue_seconds=0.3)
    return openai_sandbox


@pytest.fixture
def stack(
    request: pytest.FixtureRequest,
    database_url: str,
    redis_url: str,
    provider: OpenAISandbox,
    tmp_path: Path,
) -> Iterator[Stack]:
    """Errand wired to the stand-ins; workers are started by the test.

    `@pytest.mark.kinds(field=value)` overrides every job kind before any process starts;
    `@pytest.mark.kinds(per_kind={"research": {field: value}})` only the kinds it names.
    """
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "OPENAI_API_KEY": "sk-sandbox",
        "OPENAI_BASE_URL": provider.base_url,
        "ERRAND_FOLLOW_INTERVAL": "0.2",
        "ERRAND_DATA_DIR": str(tmp_path / "data"),
    }
    built = Stack(env=env, logs=tmp_path, openai=provider)
    marker = request.node.get_closest_marker("kinds")
    if marker is not None:
        built.write_kinds(**marker.kwargs)
    yield built
    built.end_sessions()
    if built._parts is not None:
        built._parts.db.engine.dispose()


# -- Slack: the Web API stand-in and a real bot process (added for the bot's tests) -------

from tests.support.slack import SECRET, TOKEN, BotProcess, SlackSandbox  # noqa: E402
from tests.support.webhooks import hook  # noqa: E402


@pytest.fixture(scope="session")
def slack_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackSandbox]:
    """The Slack Web API stand-in."""
    for url in _stand_in("sandbox.slack_api", tmp_path_factory.mktemp("slack") / "slack.log"):
        yield SlackSandbox(url)


@pytest.fixture
def slack(request: pytest.FixtureRequest, slack_sandbox: SlackSandbox) -> SlackSandbox:
    """The stand-in, reset to its seeded workspace, with Slack's rate tiers enforced unless
    the test is marked `slack_unlimited` (it is about something else and hammers Slack)."""
    marker = request.node.get_closest_marker("slack_unlimited")
    slack_sandbox.reset_with(rate_limits="off" if marker else "documented")
    return slack_sandbox


@pytest.fixture
def hooked(stack: Stack) -> Stack:
    """The stack with OPENAI_WEBHOOK_SECRET set; ask for it before `bot`, which reads it."""
    return hook(stack)


@pytest.fixture
def bot(stack: Stack, slack: SlackSandbox, tmp_path: Path) -> Iterator[BotProcess]:
    """`errand bot` over HTTP, and Slack settings in `stack.env` so workers post too."""
    stack.env.update(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            "ERRAND_APPROVALS_CHANNEL": "C_APPROVALS",
            "ERRAND_APPROVERS": "S_APPROVERS",
            "ERRAND_ONCALL": "U_ONCALL",
        }
    )
    port = free_port()
    process = spawn(
        ["-m", "errand.cli", "bot", "--port", str(port)], stack.env, tmp_path / "bot.log"
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz")
    yield BotProcess(url, slack, process)
    stop(process)
