"""The retention policy: how long a job's input and output are kept after it ends, and
the purge that applies it (daily in the workers, and `errand purge`).

Days come from the kind (`retention_days` in the kinds file) or else
ERRAND_RETENTION_DAYS; with neither, a job is kept. Before purging, what goes can be
appended to an archive file (ERRAND_RETENTION_ARCHIVE, JSON Lines, one job per line as
`errand jobs show --json` prints it); the archive is written and synced first, so a job
is never purged without its line when an archive is asked for.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from models.base import utcnow
from models.db import Database
from models.export import job_detail
from models.job import Event, Job
from models.kinds import KindsConfig
from models.settings import Settings
from models.store.retention import due_for_purge, purge_jobs, with_events

BATCH = 500  # jobs a round: one archive write and one purge transaction each


@dataclass(frozen=True)
class Policy:
    """Days kept after a job ends: the default and each kind that sets its own."""

    default_days: float | None
    kind_days: dict[str, float]
    archive: Path | None

    @classmethod
    def of(cls, settings: Settings, kinds: KindsConfig) -> Policy:
        own = {k.name: k.retention_days for k in kinds.kinds.values() if k.retention_days}
        archive = Path(settings.retention_archive) if settings.retention_archive else None
        return cls(settings.retention_days, own, archive)

    @property
    def keeps_everything(self) -> bool:
        return self.default_days is None and not self.kind_days


@dataclass(frozen=True)
class PurgeReport:
    """What a purge did (or, dry, would do): the jobs, oldest first."""

    job_ids: list[str]
    dry_run: bool


def purge_due(db: Database, policy: Policy, *, dry_run: bool = False) -> PurgeReport:
    """Purge every job whose retention has passed, in rounds; a dry run purges nothing
    and lists what a real one would purge now."""
    if policy.keeps_everything:
        return PurgeReport([], dry_run)
    now = utcnow()
    cutoffs = {kind: now - timedelta(days=days) for kind, days in policy.kind_days.items()}
    default = now - timedelta(days=policy.default_days) if policy.default_days else None
    if dry_run:
        return PurgeReport(due_for_purge(db, cutoffs, default, limit=None), True)
    purged: list[str] = []
    while ids := due_for_purge(db, cutoffs, default, limit=BATCH):
        if policy.archive is not None:
            append_archive(policy.archive, with_events(db, ids))
        purge_jobs(db, ids, now)
        purged += ids
    return PurgeReport(purged, False)


def append_archive(path: Path, found: list[tuple[Job, list[Event]]]) -> None:
    """Append one JSON line per job, then sync: the purge that follows may rely on it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as archive:
        for job, job_events in found:
            archive.write(json.dumps(job_detail(job, job_events), ensure_ascii=False) + "\n")
        archive.flush()
        os.fsync(archive.fileno())


def described(policy: Policy) -> str:
    """The policy in a phrase, for the CLI's report."""
    parts = [f"{policy.default_days:g} days after a job ends"] if policy.default_days else []
    parts += [f"{days:g} days for {kind}" for kind, days in sorted(policy.kind_days.items())]
    return "; ".join(parts) or "kept forever"
