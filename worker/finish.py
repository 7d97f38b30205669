"""Applies what the provider says about a response to our job: progress, result, failure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from openai.types.responses import Response
from sqlalchemy import select, update
from sqlalchemy.orm import lazyload

from errand.kinds import Kind, KindsConfig
from errand.runtime import Runtime, Unit
from models.base import utcnow
from models.job import Attempt, Job
from models.lifecycle import (
    ACTIVE,
    JobStatus,
    TransitionRefused,
    add_notice,
    product_status,
    record_event,
    transition,
)
from models.tables import attempts, jobs
from worker.attempts import open_attempt
from worker.results import read_result, retryable_failure

PROVIDER_PENDING = frozenset({"queued", "in_progress"})
STILL_RUNNING_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class Applied:
    """What applying a response did, so callers can dispatch follow-up work."""

    job_id: str
    terminal: bool
    retry_attempt: int | None = None


def observe(runtime: Runtime, response: Response) -> Applied | None:
    """Apply one provider answer in its own transaction, then dispatch what follows."""
    with runtime.unit() as unit:
        applied = apply_response(
            unit, runtime.kinds, response, webhooks=runtime.settings.webhooks_enabled
        )
    return applied


def apply_response(
    unit: Unit, kinds: KindsConfig, response: Response, *, webhooks: bool = False
) -> Applied | None:
    """Record a provider observation; None when the response belongs to no current attempt.

    The attempt and its job come in one query, without the job's other attempts:
    this runs for every answer the provider gives.
    """
    row = unit.session.execute(
        select(Attempt, Job)
        .join(Job, Job.id == Attempt.job_id)
        .where(Attempt.response_id == response.id)
        .options(lazyload(Job.attempt_rows))
    ).first()
    if row is None:
        return None
    attempt, job = row
    now = utcnow()
    checks = _record_observation(unit, attempt, str(response.status), now)
    if attempt.number != job.attempts or job.status not in ACTIVE:
        return Applied(job.id, terminal=True)
    kind = kinds.get(job.kind)
    if response.status in PROVIDER_PENDING:
        _progress(unit, job, kind, checks, str(response.status), now, webhooks=webhooks)
        return Applied(job.id, terminal=False)
    return _finish(unit, kinds, kind, job, attempt, response)


def _record_observation(unit: Unit, attempt: Attempt, status: str, now: datetime) -> int:
    """Count the check; returns the checks made so far, this one included.

    Counted from the value read, not from `attempt` after the UPDATE: the ORM
    synchronizes the loaded object, so reading it afterwards would count twice.
    """
    checks = attempt.checks + 1
    unit.session.execute(
        update(attempts)
        .where(attempts.c.id == attempt.id)
        .values(provider_status=status, last_checked_at=now, checks=attempts.c.checks + 1)
    )
    return checks


def _progress(
    unit: Unit,
    job: Job,
    kind: Kind,
    checks: int,
    status: str,
    now: datetime,
    *,
    webhooks: bool,
) -> None:
    policy = kind.webhook_follow if webhooks else kind.follow
    values: dict[str, object] = {
        "next_check_at": now + timedelta(seconds=policy.interval(checks)),
        "last_checked_at": now,
    }
    if status == "in_progress" and job.status == JobStatus.QUEUED:
        _begin_running(unit, job)
    elif job.status == JobStatus.RUNNING and _progress_due(job, now):
        add_notice(
            unit.session, job.id, "still_running", key=f"still_running:{int(now.timestamp())}"
        )
        values["progress_noted_at"] = now
    unit.session.execute(update(jobs).where(jobs.c.id == job.id).values(**values))


def _begin_running(unit: Unit, job: Job) -> None:
    try:
        transition(
            unit.session,
            job.id,
            JobStatus.RUNNING,
            actor="provider",
            action="running",
            notice="running",
        )
    except TransitionRefused:
        return


def _progress_due(job: Job, now: datetime) -> bool:
    since = job.progress_noted_at or job.started_at or job.created_at
    return now - since >= STILL_RUNNING_EVERY


def _finish(
    unit: Unit, kinds: KindsConfig, kind: Kind, job: Job, attempt: Attempt, response: Response
) -> Applied:
    result = read_result(response)
    cost = kinds.cost(kind.model, result.usage)
    unit.session.execute(
        update(attempts)
        .where(attempts.c.id == attempt.id)
        .values(finished_at=utcnow(), usage=result.usage, error=result.error)
    )
    if retryable_failure(response) and job.attempts < job.max_attempts and not job.stop_requested:
        number = _retry_after_failure(unit, job, kind, result.error or "provider failure", cost)
        return Applied(job.id, terminal=False, retry_attempt=number)
    target, actor = _target(job, kind, str(response.status))
    values: dict[str, object] = {
        "output_text": result.output_text,
        "output": result.output,
        "usage": result.usage,
        "cost_usd": _add(job.cost_usd, cost),
        "error": result.error,
        "next_check_at": None,
    }
    _settle(unit, job, target, actor, values, result.error)
    return Applied(job.id, terminal=True)


def _target(job: Job, kind: Kind, provider_status: str) -> tuple[JobStatus, str]:
    target = product_status(provider_status, review=kind.review)
    if target == JobStatus.CANCELED and job.stop_requested == JobStatus.EXPIRED:
        return JobStatus.EXPIRED, "errand"
    if target == JobStatus.CANCELED:
        return target, job.stop_requested_by or "provider"
    return target, "provider"


def _settle(
    unit: Unit,
    job: Job,
    target: JobStatus,
    actor: str,
    values: dict[str, object],
    detail: str | None,
) -> None:
    try:
        transition(
            unit.session,
            job.id,
            target,
            actor=actor,
            action="finish",
            detail=detail,
            values=values,
            notice=target.value,
        )
    except TransitionRefused as refused:
        if refused.current != target:
            record_event(
                unit.session,
                job.id,
                "provider",
                "result_ignored",
                detail=(
                    f"the provider reached {target.value} but the job was already "
                    f"{refused.current.value}"
                ),
            )


def _retry_after_failure(unit: Unit, job: Job, kind: Kind, reason: str, cost: float | None) -> int:
    number = job.attempts + 1
    transition(
        unit.session,
        job.id,
        JobStatus.QUEUED,
        actor="errand",
        action="auto_retry",
        detail=reason,
        notice="retrying",
        values={
            "attempts": number,
            "next_check_at": None,
            "cost_usd": _add(job.cost_usd, cost),
        },
    )
    open_attempt(unit.session, job.id, number)
    return number


def _add(total: float | None, more: float | None) -> float | None:
    if more is None:
        return total
    return round((total or 0.0) + more, 6)
