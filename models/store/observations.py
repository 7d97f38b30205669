"""What the provider says about a response, applied to its job: progress, a result, a
failure worth another attempt. Repeated or late observations change nothing: the finish
is a compare-and-set on the job's status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, lazyload

from models.base import utcnow
from models.errors import TransitionRefused
from models.job import Attempt, Job, attempts, jobs
from models.kinds import Kind, KindsConfig
from models.status import ACTIVE, PROVIDER_PENDING, JobStatus, product_status
from models.store.attempt import open_attempt
from models.store.lifecycle import add_notice, record_event, transition
from models.store.turns import end_turn

STILL_RUNNING_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class Observation:
    """One answer of the provider about a response, in the shape we store."""

    response_id: str
    status: str
    output_text: str | None = None
    output: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    error: str | None = None  # a sentence Errand wrote, for people
    provider_error: str | None = None  # the provider's own words, for the record
    retryable: bool = False  # a provider-side failure worth a fresh attempt on its own
    service_tier: str | None = None  # the tier the provider reports having used
    tool_calls: dict[str, int] = field(default_factory=dict)  # by tool type, for their prices


@dataclass(frozen=True)
class Applied:
    """What applying an observation did: whether the job's current attempt has ended, and
    the cost it recorded (for the cost metric)."""

    job_id: str
    terminal: bool
    kind: str = ""
    cost_usd: float | None = None


def held_by(session: Session, response_id: str) -> tuple[Attempt, Job] | None:
    """The attempt holding a provider object (response or batch) and its job, in one query
    without the job's other attempts: this runs for every answer the provider gives."""
    row = session.execute(
        select(Attempt, Job)
        .join(Job, Job.id == Attempt.job_id)
        .where(Attempt.response_id == response_id)
        .options(lazyload(Job.attempt_rows))
    ).first()
    return None if row is None else (row[0], row[1])


def apply_observation(
    session: Session, kinds: KindsConfig, seen: Observation, *, webhooks: bool
) -> Applied | None:
    """Record an observation; None when the response belongs to no attempt of ours."""
    found = held_by(session, seen.response_id)
    if found is None:
        return None
    attempt, job = found
    now = utcnow()
    checks = count_check(session, attempt, seen.status, now)
    if attempt.number != job.attempts or job.status not in ACTIVE:
        return Applied(job.id, terminal=True)
    kind = kinds.get(job.kind)
    if seen.status in PROVIDER_PENDING:
        policy = kind.webhook_follow if webhooks else kind.follow
        _progress(session, job, seen.status, now, now + timedelta(seconds=policy.interval(checks)))
        return Applied(job.id, terminal=False)
    return _finish(session, kinds, kind, job, attempt, seen)


def count_check(session: Session, attempt: Attempt, status: str, now: datetime) -> int:
    """Count the check; returns the checks made so far, this one included.

    Counted from the value read, not from `attempt` after the UPDATE: the ORM
    synchronizes the loaded object, so reading it afterwards would count twice.
    """
    session.execute(
        update(attempts)
        .where(attempts.c.id == attempt.id)
        .values(provider_status=status, last_checked_at=now, checks=attempts.c.checks + 1)
    )
    return attempt.checks + 1


def _progress(session: Session, job: Job, status: str, now: datetime, next_check: datetime) -> None:
    values: dict[str, object] = {"next_check_at": next_check, "last_checked_at": now}
    if status == "in_progress" and job.status == JobStatus.QUEUED:
        begin_running(session, job)
    elif job.status == JobStatus.RUNNING and _progress_due(job, now):
        key = f"still_running:{int(now.timestamp())}"
        add_notice(session, job.id, "still_running", key=key)
        values["progress_noted_at"] = now
    session.execute(update(jobs).where(jobs.c.id == job.id).values(**values))


def begin_running(session: Session, job: Job) -> None:
    try:
        transition(
            session, job.id, JobStatus.RUNNING, actor="provider", action="running", notice="running"
        )
    except TransitionRefused:
        return


def _progress_due(job: Job, now: datetime) -> bool:
    since = job.progress_noted_at or job.started_at or job.created_at
    return now - since >= STILL_RUNNING_EVERY


def _finish(
    session: Session,
    kinds: KindsConfig,
    kind: Kind,
    job: Job,
    attempt: Attempt,
    seen: Observation,
) -> Applied:
    """The attempt's end: its cost (the job's own model, the tier used, the tools called)
    on the attempt and added to the job; then the job's end, or a fresh attempt."""
    cost = kinds.cost(
        job.model, seen.usage, service_tier=seen.service_tier, tool_calls=seen.tool_calls
    )
    # The provider's words of an earlier refusal (a held launch) stay unless it has new ones.
    said = {"provider_error": seen.provider_error} if seen.provider_error else {}
    session.execute(
        update(attempts)
        .where(attempts.c.id == attempt.id)
        .values(finished_at=utcnow(), usage=seen.usage, error=seen.error, cost_usd=cost)
        .values(service_tier=seen.service_tier, **said)
    )
    if seen.retryable and job.attempts < job.max_attempts and not job.stop_requested:
        _retry_after_failure(session, job, seen.error or "provider failure", cost)
        _end_turn(session, job, seen, cost, None)
        return Applied(job.id, terminal=False, kind=job.kind, cost_usd=cost)
    target, actor = _target(job, kind, seen)
    values: dict[str, object] = {
        "output_text": seen.output_text,
        "output": seen.output,
        "usage": seen.usage,
        "cost_usd": add_cost(job.cost_usd, cost),
        "service_tier": seen.service_tier,
        "error": seen.error,
        "next_check_at": None,
        **said,
    }
    taken = settle_job(session, job.id, target, actor, values, seen.error)
    _end_turn(session, job, seen, cost, target if taken else None)
    return Applied(job.id, terminal=True, kind=job.kind, cost_usd=cost)


def _end_turn(
    session: Session, job: Job, seen: Observation, cost: float | None, ended: JobStatus | None
) -> None:
    """The job's current turn records the response, its cost and, when the job took the
    result (`ended`), the answer."""
    output = seen.output_text if ended is not None else None
    status = ended.value if ended is not None else None
    end_turn(
        session,
        job.id,
        job.turn,
        response_id=seen.response_id,
        status=status,
        output_text=output,
        cost=cost,
    )


def _target(job: Job, kind: Kind, seen: Observation) -> tuple[JobStatus, str]:
    produced = bool((seen.output_text or "").strip())
    target = product_status(seen.status, review=kind.review, produced=produced)
    if target == JobStatus.CANCELED and job.stop_requested == JobStatus.EXPIRED:
        return JobStatus.EXPIRED, "errand"
    if target == JobStatus.CANCELED:
        return target, job.stop_requested_by or "provider"
    return target, "provider"


def settle_job(
    session: Session,
    job_id: str,
    target: JobStatus,
    actor: str,
    values: dict[str, object],
    detail: str | None,
) -> bool:
    """Move the job to where the provider's answer takes it; False when it had already
    moved elsewhere (the answer is then only recorded as ignored)."""
    try:
        transition(
            session,
            job_id,
            target,
            actor=actor,
            action="finish",
            detail=detail,
            values=values,
            notice=target.value,
        )
        return True
    except TransitionRefused as refused:
        if refused.current != target:
            late = f"the provider reached {target.value} but the job was already "
            record_event(
                session, job_id, "provider", "result_ignored", detail=late + refused.current.value
            )
        return False


def _retry_after_failure(session: Session, job: Job, reason: str, cost: float | None) -> None:
    number = job.attempts + 1
    transition(
        session,
        job.id,
        JobStatus.QUEUED,
        actor="errand",
        action="auto_retry",
        sources=ACTIVE,
        detail=reason,
        notice="retrying",
        values={
            "attempts": number,
            "next_check_at": None,
            "cost_usd": add_cost(job.cost_usd, cost),
        },
    )
    open_attempt(session, job.id, number)


def add_cost(total: float | None, more: float | None) -> float | None:
    if more is None:
        return total
    return round((total or 0.0) + more, 6)
