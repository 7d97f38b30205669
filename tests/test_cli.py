"""`errand` as an operator types it: real `python -m errand.cli` processes against a real
database. One line for every refusal, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.blocks.review import start_request
from models.db import Database
from models.job import Job
from models.migrate import upgrade
from models.store import delivery, queries
from tests.support.procs import end_session, free_port, spawn, wait_for

# The settings an operator's shell might carry, dropped so each test says what it sets.
DROPPED = (
    "DATABASE_URL",
    "REDIS_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
)


def errand(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in DROPPED}
    return subprocess.run(
        [sys.executable, "-m", "errand.cli", *args],
        check=False,
        cwd=cwd,
        env={**base, "ERRAND_DATA_DIR": str(cwd / "data"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'errand.db'}"
    upgrade(url)
    return url


def test_jobs_list_has_a_header_row(db_url: str, tmp_path: Path) -> None:
    job_id = errand("jobs", "submit", "research", "Why?", cwd=tmp_path, DATABASE_URL=db_url)
    listed = errand("jobs", "list", cwd=tmp_path, DATABASE_URL=db_url)
    header, row = listed.stdout.splitlines()
    assert header.split()[:3] == ["ID", "STATUS", "KIND"]
    assert row.startswith(job_id.stdout.strip())


def test_an_unknown_status_is_refused_with_the_valid_ones(db_url: str, tmp_path: Path) -> None:
    done = errand("jobs", "list", "--status", "done", cwd=tmp_path, DATABASE_URL=db_url)
    assert done.returncode == 2
    assert "invalid choice: 'done'" in done.stderr
    assert "awaiting_approval" in done.stderr and "completed" in done.stderr


def test_a_closed_pipe_ends_the_listing_quietly(db_url: str, tmp_path: Path) -> None:
    errand("jobs", "submit", "research", "Why?", cwd=tmp_path, DATABASE_URL=db_url)
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    listing = subprocess.Popen(
        [sys.executable, "-m", "errand.cli", "jobs", "list"],
        cwd=tmp_path,
        env={**env, "DATABASE_URL": db_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert listing.stdout is not None and listing.stderr is not None
    listing.stdout.close()  # as `| head -1` does once it has its line
    stderr = listing.stderr.read().decode()
    listing.wait(timeout=30)
    listing.stderr.close()
    assert stderr == ""


def test_a_database_never_migrated_says_what_to_run(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    done = errand("jobs", "list", cwd=tmp_path, DATABASE_URL=f"sqlite:///{empty}")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "errand: the database has no Errand tables; run `errand db upgrade`"
    ]


def test_a_missing_database_is_not_created_by_a_look(tmp_path: Path) -> None:
    done = errand("jobs", "list", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "errand db upgrade" in line and "DATABASE_URL=" in line
    assert not (tmp_path / "errand.db").exists()


def test_the_cli_finds_the_running_sandbox(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = tmp_path / "sandbox.log"
    port = free_port()
    sandbox = spawn(
        ["-m", "errand.cli", "run", "--sandbox", "--port", str(port)],
        {"ERRAND_DATA_DIR": str(data)},
        log,
    )
    try:
        wait_for(lambda: "sandbox ready" in log.read_text(), 40, "the sandbox never got ready")
        submitted = errand("jobs", "submit", "research", "Found?", cwd=tmp_path)
        assert submitted.returncode == 0, submitted.stderr
        job_id = submitted.stdout.strip()
        sandbox_db = Database.connect(f"sqlite:///{data / f'sandbox-{port}' / 'errand.db'}")
        assert queries.get_job(sandbox_db, job_id).input_text == "Found?"
        sandbox_db.engine.dispose()
        assert not (tmp_path / "errand.db").exists()
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=20)
        end_session(sandbox)


def test_bot_without_its_signing_secret_stops_with_one_line(tmp_path: Path) -> None:
    done = errand("bot", "--port", str(free_port()), cwd=tmp_path, SLACK_BOT_TOKEN="xoxb-test")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "errand: SLACK_SIGNING_SECRET is not set; HTTP mode verifies every request."
    ]


def _given_up_notice(db_url: str) -> str:
    """A job whose first notice Slack refused for good, the way the notify pulse records it."""
    db = Database.connect(db_url)
    try:
        pending = queries.notices(db)
        first = pending[0]
        delivery.settle(
            db,
            delivery.Outcome(
                first.id, first.job_id, None, error="channel_not_found", given_up=True
            ),
        )
        return first.job_id
    finally:
        db.engine.dispose()


def test_notices_lists_pending_and_undeliverable_news(db_url: str, tmp_path: Path) -> None:
    for text in ("One?", "Two?"):
        errand(
            "jobs", "submit", "research", text, "--channel", "C1", cwd=tmp_path, DATABASE_URL=db_url
        )
    job_id = _given_up_notice(db_url)
    everything = errand("notices", cwd=tmp_path, DATABASE_URL=db_url)
    assert everything.returncode == 0, everything.stderr
    header, *rows = everything.stdout.splitlines()
    assert header.split()[:3] == ["JOB", "MILESTONE", "TRIES"]
    assert len(rows) >= 2
    given_up = errand("notices", "--undeliverable", "--json", cwd=tmp_path, DATABASE_URL=db_url)
    (shown,) = json.loads(given_up.stdout)
    assert shown["job_id"] == job_id
    assert shown["last_error"] == "channel_not_found"
    assert shown["given_up_at"] and "tries" in shown and shown["milestone"]


def test_a_job_from_the_cli_is_shown_in_slack_as_an_operator() -> None:
    """The stored actor stays `cli:NAME`; only its rendering in Slack changes."""
    job = Job(id="AB12CD34", kind="research", input_text="Why?", requested_by="cli:ops")
    text, blocks = start_request(job, "Research", {"estimate_usd": 1.0})
    shown = text + json.dumps(blocks)
    assert "an operator (CLI)" in text and "<@cli" not in shown
