"""A whole Errand for one test: its own database and Redis DB, the provider stand-in, workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from errand.parts import Parts, connect
from models.db import Database
from models.export import job_detail, job_summary
from models.job import Job
from models.kinds import KindsConfig
from models.settings import Settings
from models.status import TERMINAL
from models.store import queries
from models.store.turns import turns_of
from tests.support.client import HTTP
from tests.support.procs import ROOT, end_session, spawn, stop, wait_for

# A kind's `max_output_tokens` with room for a 70,000-character answer: the stand-in, like a
# reasoning model, spends 2 reasoning tokens per visible one, and 16,000 cuts it off.
LONG_ANSWER_TOKENS = 100_000


@dataclass
class OpenAISandbox:
    """The provider stand-in, driven through its control API."""

    url: str

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def reset(self) -> None:
        HTTP.post(f"{self.url}/_sandbox/reset").raise_for_status()

    def configure(self, **values: Any) -> None:
        HTTP.post(f"{self.url}/_sandbox/config", json=values).raise_for_status()

    def fault(self, **spec: Any) -> None:
        """Inject a fault; the spec's keys are in `sandbox.openai_faults`."""
        HTTP.post(f"{self.url}/_sandbox/faults", json=spec).raise_for_status()

    def clear_faults(self) -> None:
        """End every pending fault now (an outage ends)."""
        HTTP.delete(f"{self.url}/_sandbox/faults").raise_for_status()

    def stats(self) -> dict[str, Any]:
        body: dict[str, Any] = HTTP.get(f"{self.url}/_sandbox/stats").json()
        return body

    def job(self, job_id: str) -> dict[str, Any]:
        """What the stand-in made for a job: made, cancelled, unheard, orphans, responses."""
        blank = {"made": 0, "cancelled": 0, "unheard": 0, "orphans": [], "responses": []}
        found: dict[str, Any] = self.stats()["jobs"].get(job_id, blank)
        return found

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The request log, filtered by field (`endpoint="create", background=True`)."""
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in filters.items()}
        listing = HTTP.get(f"{self.url}/_sandbox/requests", params=params)
        items: list[dict[str, Any]] = listing.json()["data"]
        return items

    def responses_for(self, job_id: str) -> list[dict[str, Any]]:
        """Every response the stand-in created for a job (from its metadata)."""
        listing = HTTP.get(f"{self.url}/_sandbox/responses", params={"job_id": job_id})
        items: list[dict[str, Any]] = listing.json()["data"]
        return items


@dataclass
class Stack:
    """Environment, runtime and worker processes of one test's Errand."""

    env: dict[str, str]
    logs: Path
    openai: OpenAISandbox
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stopped: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _parts: Parts | None = None

    @property
    def parts(self) -> Parts:
        """The database, Redis and kinds this stack's processes use, for the test to read."""
        if self._parts is None:
            self._parts = connect(Settings(_env_file=None, **self._settings()))  # type: ignore[call-arg]
        return self._parts

    @property
    def db(self) -> Database:
        return self.parts.db

    @property
    def kinds(self) -> KindsConfig:
        return self.parts.kinds

    def _settings(self) -> dict[str, Any]:
        return {
            "database_url": self.env["DATABASE_URL"],
            "redis_url": self.env["REDIS_URL"],
            "openai_api_key": self.env["OPENAI_API_KEY"],
            "config_path": self.env.get("ERRAND_CONFIG"),
        }

    def write_kinds(
        self, per_kind: dict[str, dict[str, Any]] | None = None, **overrides: Any
    ) -> None:
        """Point ERRAND_CONFIG at the packaged kinds with `overrides` applied to every kind,
        and `per_kind` (kind name: overrides) to the kinds it names."""
        raw = yaml.safe_load((ROOT / "models" / "kinds.yaml").read_text())
        for name, kind in raw["kinds"].items():
            kind.update(overrides)
            kind.update((per_kind or {}).get(name, {}))
        path = self.logs / "kinds.yaml"
        path.write_text(yaml.safe_dump(raw))
        self.env["ERRAND_CONFIG"] = str(path)
        self._parts = None

    def start_worker(self) -> subprocess.Popen[bytes]:
        index = len(self.workers)
        process = spawn(["-m", "errand.cli", "worker"], self.env, self.logs / f"worker{index}.log")
        self.workers.append(process)
        return process

    def stop_workers(self, *, kill: bool = False) -> None:
        for process in self.workers:
            stop(process, kill=kill)
        self.stopped.extend(self.workers)
        self.workers.clear()

    def end_sessions(self) -> None:
        """After the test: nothing any worker started outlives it."""
        self.stop_workers()
        for process in self.stopped:
            end_session(process)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `errand ARGS` as an operator would, with this stack's environment."""
        return subprocess.run(
            [sys.executable, "-m", "errand.cli", *args],
            check=False,
            cwd=ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def show(self, job_id: str) -> dict[str, Any]:
        """What `errand jobs show ID --json` prints, read in this process: tests poll it, and
        a process per look would cost seconds of CPU each (the CLI itself is tested apart)."""
        job = queries.get_job(self.db, job_id)
        detail = job_detail(job, queries.history(self.db, job_id), turns_of(self.db, job_id))
        shown: dict[str, Any] = json.loads(json.dumps(detail, default=str))
        return shown

    def jobs(self) -> list[dict[str, Any]]:
        """Every job, as `errand jobs list --json` prints them (newest first)."""
        found = queries.recent(self.db, limit=1000)
        listed: list[dict[str, Any]] = json.loads(
            json.dumps([job_summary(job) for job in found], default=str)
        )
        return listed

    def status(self, job_id: str) -> str:
        with self.db.unit() as unit:
            return str(unit.session.scalar(select(Job.status).where(Job.id == job_id)))

    def wait_status(self, job_id: str, *wanted: str, timeout: float = 30) -> str:
        wait_for(
            lambda: self.status(job_id) in wanted, timeout, f"job {job_id} never reached {wanted}"
        )
        return self.status(job_id)

    def wait_settled(self, job_ids: list[str], timeout: float) -> None:
        terminal = {s.value for s in TERMINAL} | {"needs_review"}
        wait_for(
            lambda: all(self.status(j) in terminal for j in job_ids),
            timeout,
            "jobs did not all settle",
        )
