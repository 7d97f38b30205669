"""rq-dashboard, as the README tells an operator to run it, shows Errand's queues and workers.

It is a dev dependency (pyproject.toml) at the version constraints.txt pins, run as its
own process against the tests' Redis DB; Errand's queues and workers are RQ 3's.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue

from tests.support.client import HTTP
from tests.support.procs import free_port, stop, wait_for, wait_http
from tests.support.stack import Stack

CONTROL = "errand-control"  # Errand's queue for people's actions and webhooks


@pytest.fixture
def dashboard(redis_url: str, tmp_path: Path) -> Iterator[str]:
    """`rq-dashboard --bind 127.0.0.1 --port N --redis-url URL`, the README's command."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("rq-dashboard")), "--bind", "127.0.0.1"]
    with (tmp_path / "rq-dashboard.log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port), "--redis-url", redis_url],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/0/data/queues.json")
    yield url
    stop(process)


def data(dashboard: str, path: str) -> Any:
    response = HTTP.get(f"{dashboard}/0/data/{path}", timeout=10)
    response.raise_for_status()
    return response.json()


def queues(dashboard: str) -> dict[str, dict[str, Any]]:
    return {q["name"]: q for q in data(dashboard, "queues.json")["queues"]}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dashboard_shows_an_errand_queue_its_job_and_the_workers(
    dashboard: str, redis_url: str, stack: Stack
) -> None:
    queue = Queue(CONTROL, connection=Redis.from_url(redis_url))
    job = queue.enqueue("os.getcwd")
    assert queues(dashboard)[CONTROL]["count"] == 1
    listed = data(dashboard, f"jobs/{CONTROL}/queued/8/asc/1.json")["jobs"]
    assert [j["id"] for j in listed] == [job.id]
    assert data(dashboard, f"job/{job.id}.json")["origin"] == CONTROL
    page = HTTP.get(f"{dashboard}/0/view/queues", timeout=10, follow_redirects=True)
    assert page.status_code == 200 and "RQ dashboard" in page.text
    queue.empty()

    stack.start_worker()

    def errand_workers() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = data(dashboard, "workers.json")["workers"]
        return [w for w in found if CONTROL in w["queues"]]

    wait_for(errand_workers, 30, "the dashboard lists no worker on errand-control")
