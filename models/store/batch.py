"""Batch jobs in the store: their rows read back for the launch, a look at their batch
applied (progress on the card, or the end with its results file and cost), and the
results file read for delivery.

A batch's ID is kept where a response's is (`attempts.response_id`): claims, checks,
webhooks, stops and strays find it the same way, and only what is seen differs.
"""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.base import utcnow
from models.batch import ALL_FAILED, ENDED, EXPIRED, RUNNING, TIER, BatchSeen, results_filename
from models.batch import summary as batch_summary
from models.db import Database
from models.errors import JobNotFound
from models.job import Attempt, Job, attempts, jobs
from models.job_file import JobFile, job_files
from models.kinds import KindsConfig
from models.notifier import CARD
from models.rows import Rows, unpack_rows
from models.status import ACTIVE, JobStatus
from models.store.attempt import Launch
from models.store.lifecycle import add_notice
from models.store.observations import (
    Applied,
    add_cost,
    begin_running,
    count_check,
    held_by,
    settle_job,
)

ROWS, RESULTS = "rows", "results"


def load_rows(db: Database, job_id: str) -> Rows:
    """The rows a batch job was given."""
    with db.unit() as unit:
        data = unit.session.scalar(
            select(JobFile.data).where(JobFile.job_id == job_id, JobFile.name == ROWS)
        )
    if data is None:
        raise JobNotFound(job_id)
    return unpack_rows(data)


def results_file(db: Database, job_id: str) -> bytes | None:
    """The job's results file (CSV), if its batch has ended with one."""
    with db.unit() as unit:
        data = unit.session.scalar(
            select(JobFile.data).where(JobFile.job_id == job_id, JobFile.name == RESULTS)
        )
    return gzip.decompress(data) if data is not None else None


def renew_claim(db: Database, launch: Launch, until: datetime) -> bool:
    """Extend the launch's lease (its upload took a while) if it is still this claim's;
    False when another claim has it now, and this one must not create."""
    with db.unit() as unit:
        renewed: int = unit.session.execute(
            update(attempts)
            .where(
                attempts.c.id == launch.attempt_id,
                attempts.c.claim_token == launch.claim_token,
                attempts.c.response_id.is_(None),
            )
            .values(claimed_until=until)
        ).rowcount  # type: ignore[attr-defined]
    return renewed == 1


def adopted(db: Database, launch: Launch) -> None:
    """The launch took a batch an earlier create made instead of sending its own: its claim
    counted a create call that was never sent."""
    with db.unit() as unit:
        unit.session.execute(
            update(attempts)
            .where(attempts.c.id == launch.attempt_id)
            .values(create_calls=attempts.c.create_calls - 1)
        )


def apply_batch(
    session: Session, kinds: KindsConfig, seen: BatchSeen, *, webhooks: bool
) -> Applied | None:
    """Record a look at a batch; None when it belongs to no attempt of ours."""
    found = held_by(session, seen.batch_id)
    if found is None:
        return None
    attempt, job = found
    now = utcnow()
    checks = count_check(session, attempt, seen.status, now)
    if attempt.number != job.attempts or job.status not in ACTIVE:
        return Applied(job.id, terminal=True)
    if seen.pending:
        kind = kinds.get(job.kind)
        policy = kind.webhook_follow if webhooks else kind.follow
        _progress(session, job, seen, now, now + timedelta(seconds=policy.interval(checks)))
        return Applied(job.id, terminal=False)
    return _finish(session, kinds, job, attempt, seen)


def _progress(session: Session, job: Job, seen: BatchSeen, now: datetime, due: datetime) -> None:
    """Running once rows run; the card shows the counts each time they change."""
    values: dict[str, Any] = {"next_check_at": due, "last_checked_at": now}
    if seen.status in RUNNING and job.status == JobStatus.QUEUED:
        begin_running(session, job)
    output = dict(job.output or {})
    if seen.counts and seen.counts != output.get("counts"):
        values["output"] = {**output, "counts": seen.counts}
        counted = ":".join(str(seen.counts.get(k, 0)) for k in ("total", "completed", "failed"))
        _card(session, job.id, f"rows:{job.attempts}:{counted}")
    session.execute(update(jobs).where(jobs.c.id == job.id).values(**values))


def _card(session: Session, job_id: str, key: str) -> None:
    """A card edit for new counts; one already queued for the same counts is enough."""
    try:
        with session.begin_nested():
            add_notice(session, job_id, CARD, key=key)
    except IntegrityError:
        return


def _finish(
    session: Session, kinds: KindsConfig, job: Job, attempt: Attempt, seen: BatchSeen
) -> Applied:
    """The batch's end: the results file stored, the cost at batch prices on the attempt
    and the job, and the job's end, which delivers the file."""
    cost = kinds.cost(job.model, seen.usage, service_tier=TIER) if seen.usage else 0.0
    target, actor, error = _target(job, seen)
    said = {"provider_error": seen.provider_error} if seen.provider_error else {}
    session.execute(
        update(attempts)
        .where(attempts.c.id == attempt.id)
        .values(finished_at=utcnow(), usage=seen.usage, error=error, cost_usd=cost)
        .values(service_tier=TIER, **said)
    )
    _store_results(session, job.id, seen)
    values: dict[str, Any] = {
        "output_text": batch_summary(seen.tally, cost, seen.status) if seen.tally else None,
        "output": _output(job, seen),
        "usage": seen.usage,
        "cost_usd": add_cost(job.cost_usd, cost),
        "service_tier": TIER,
        "error": error,
        "next_check_at": None,
        **said,
    }
    settle_job(session, job.id, target, actor, values, error)
    return Applied(job.id, terminal=True, kind=job.kind, cost_usd=cost)


def _target(job: Job, seen: BatchSeen) -> tuple[JobStatus, str, str | None]:
    """The job's end for the batch's, who ended it, and the sentence saying why."""
    target = ENDED[seen.status]
    if target == JobStatus.CANCELED:
        if job.stop_requested == JobStatus.EXPIRED:
            return JobStatus.EXPIRED, "errand", None
        return target, job.stop_requested_by or "provider", None
    if target == JobStatus.EXPIRED:
        return target, "provider", EXPIRED
    if target == JobStatus.COMPLETED and seen.tally is not None and seen.tally.done == 0:
        return JobStatus.FAILED, "provider", ALL_FAILED
    return target, "provider", seen.error


def _output(job: Job, seen: BatchSeen) -> dict[str, Any]:
    output: dict[str, Any] = {**(job.output or {}), "batch_id": seen.batch_id}
    if seen.counts:
        output["counts"] = seen.counts
    if seen.tally is not None:
        tally = seen.tally
        output.update(done=tally.done, failed=tally.failed, unrun=tally.unrun)
    if seen.results is not None:
        output["results"] = results_filename(job.id)
    return output


def _store_results(session: Session, job_id: str, seen: BatchSeen) -> None:
    """The results file, replacing an earlier attempt's."""
    assert seen.results is not None
    session.execute(
        delete(job_files).where(job_files.c.job_id == job_id, job_files.c.name == RESULTS)
    )
    session.execute(
        insert(job_files).values(
            job_id=job_id,
            name=RESULTS,
            filename=results_filename(job_id),
            row_count=seen.tally.rows if seen.tally else 0,
            input_chars=0,
            data=gzip.compress(seen.results, compresslevel=5),
            created_at=utcnow(),
        )
    )
