"""The job service: what people and scripts can ask of jobs, used by the CLI and the bot.

Each operation is one transaction on the database (the source of truth);
work for the workers is enqueued only after it commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from errand.errors import AttemptsExhausted, InputRejected
from errand.kinds import Kind, KindsConfig
from errand.runtime import Runtime
from models.base import utcnow
from models.ids import new_job_id, normalize_job_id
from models.job import Attempt, Job
from models.lifecycle import (
    ACTIVE,
    RETRYABLE,
    JobNotFound,
    JobStatus,
    TransitionRefused,
    add_notice,
    event_row,
    notice_row,
    record_event,
    transition,
)
from models.submission import store_new_job
from worker import early
from worker.attempts import attempt_key, open_attempt
from worker.pulse import wake


def submit(
    runtime: Runtime,
    kind_name: str,
    text: str,
    *,
    user: str,
    channel: str | None = None,
    team: str | None = None,
    response_url: str | None = None,
    idempotency_key: str | None = None,
) -> Job:
    """Create a job and hand it to the workers; a repeated key returns the first job."""
    kind = _kind(runtime, kind_name)
    text = validate_input(kind, text)
    try:  # the unique key is the check: one round trip on the slash command's path
        job = _insert(runtime, kind, text, user, channel, team, response_url, idempotency_key)
    except IntegrityError:
        existing = _by_key(runtime, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing
    return job


def validate_input(kind: Kind, text: str) -> str:
    """Refuse what would only waste a provider call, with a sentence saying how to fix it."""
    text = (text or "").strip()
    if not text:
        raise InputRejected(f"Tell me what to work on: `{kind.command} <what you need>`.")
    if len(text) > kind.max_input_chars:
        raise InputRejected(
            f"That is {len(text):,} characters; {kind.command} takes at most "
            f"{kind.max_input_chars:,}. Shorten it or attach the details in a document."
        )
    return text


def _kind(runtime: Runtime, name: str) -> Kind:
    try:
        return runtime.kinds.get(name)
    except ValueError as exc:
        raise InputRejected(str(exc)) from None


def _by_key(runtime: Runtime, key: str) -> Job | None:
    with runtime.unit() as unit:
        return unit.session.scalars(select(Job).where(Job.idempotency_key == key)).first()


def _insert(
    runtime: Runtime,
    kind: Kind,
    text: str,
    user: str,
    channel: str | None,
    team: str | None,
    response_url: str | None,
    key: str | None,
) -> Job:
    """The bot answers the slash command only once the job is stored, so this runs
    inside the ack: plain rows, no ORM unit of work."""
    now, job_id = utcnow(), new_job_id()
    row: dict[str, Any] = {
        "id": job_id,
        "kind": kind.name,
        "lane": kind.lane,
        "status": JobStatus.QUEUED.value,
        "priority": kind.priority,
        "team_id": team,
        "requested_by": user,
        "channel_id": channel,
        "response_url": response_url,
        "input_text": text,
        "idempotency_key": key,
        "attempts": 1,
        "max_attempts": kind.max_attempts,
        "model": kind.model,
        "deadline_at": now + timedelta(seconds=kind.timeout_seconds),
        "created_at": now,
        "updated_at": now,
    }
    store_new_job(
        runtime.engine,
        job=row,
        attempt={
            "job_id": job_id,
            "number": 1,
            "idempotency_key": attempt_key(job_id, 1),
            "create_calls": 0,
            "checks": 0,
            "created_at": now,
        },
        event=event_row(
            job_id,
            user,
            "submitted",
            to_status=JobStatus.QUEUED.value,
            detail=f"{kind.name}: {text[:200]}",
            at=now,
        ),
        notice=notice_row(job_id, "queued", key="queued", at=now),
    )
    return Job(**row)


def get_job(runtime: Runtime, job_id: str) -> Job:
    """One job with its attempts; `JobNotFound` names the ID that was asked for."""
    wanted = normalize_job_id(job_id)
    with runtime.unit() as unit:
        job = unit.session.get(Job, wanted)
        if job is None:
            raise JobNotFound(wanted)
        return job


def request_cancel(runtime: Runtime, job_id: str, *, actor: str) -> str:
    """Ask for a cancel; the provider response is cancelled by a worker, never in this call."""
    job = get_job(runtime, job_id)
    if job.status not in ACTIVE:
        raise TransitionRefused(job.id, job.status, JobStatus.CANCELED)
    with runtime.unit() as unit:
        marked = unit.session.execute(
            update(Job)
            .where(
                Job.id == job.id,
                Job.status.in_([s.value for s in ACTIVE]),
                Job.stop_requested.is_(None),
            )
            .values(
                stop_requested=JobStatus.CANCELED.value,
                stop_requested_by=actor,
                updated_at=utcnow(),
            )
        ).rowcount  # type: ignore[attr-defined]
        if not marked:
            return _already_stopping(unit.session, job.id)
        record_event(unit.session, job.id, actor, "cancel_requested")
        add_notice(unit.session, job.id, "canceling", key=f"canceling:{job.attempts}")
        unit.later(lambda: runtime.dispatch.stop(job.id))
    return "canceling"


def _already_stopping(session: Session, job_id: str) -> str:
    current = session.scalar(select(Job.status).where(Job.id == job_id))
    if current in ACTIVE:
        return "already canceling"
    raise TransitionRefused(job_id, str(current), JobStatus.CANCELED)


def request_retry(runtime: Runtime, job_id: str, *, actor: str) -> Job:
    """Start a failed, canceled or expired job again as a new attempt."""
    job = get_job(runtime, job_id)
    if job.status not in RETRYABLE:
        raise TransitionRefused(job.id, job.status, JobStatus.QUEUED)
    if job.attempts >= job.max_attempts:
        raise AttemptsExhausted(
            f"Job {job.id} has used all {job.max_attempts} attempts its kind allows."
        )
    kind = runtime.kinds.get(job.kind)
    number = job.attempts + 1
    now = utcnow()
    with runtime.unit() as unit:
        transition(
            unit.session,
            job.id,
            JobStatus.QUEUED,
            actor=actor,
            action="retry",
            sources=RETRYABLE,
            notice="retrying",
            detail=f"attempt {number}",
            values={
                "attempts": number,
                "error": None,
                "output_text": None,
                "next_check_at": None,
                "stop_requested": None,
                "stop_requested_by": None,
                "finished_at": None,
                "deadline_at": now + timedelta(seconds=kind.timeout_seconds),
            },
        )
        open_attempt(unit.session, job.id, number)
    return get_job(runtime, job.id)


def decide(
    runtime: Runtime,
    job_id: str,
    *,
    actor: str,
    approve: bool,
    note: str | None = None,
    where: dict[str, Any] | None = None,
) -> Job:
    """Approve (deliver) or reject a result in review; the first decision wins.

    A compare-and-set from `needs_review`: a second decision gets `TransitionRefused`,
    and the job's `decided_by` says who decided first. `where` (the review request's
    channel and ts) rides on the notice so the notifier can update that message.
    """
    target, milestone = (
        (JobStatus.COMPLETED, "approved") if approve else (JobStatus.REJECTED, "rejected")
    )
    with runtime.unit() as unit:
        transition(
            unit.session,
            normalize_job_id(job_id),
            target,
            actor=actor,
            action=milestone,
            sources=frozenset({JobStatus.NEEDS_REVIEW}),
            detail=note,
            values={"decided_by": actor, "decided_at": utcnow(), "decision_note": note},
        )
        add_notice(unit.session, normalize_job_id(job_id), milestone, key="decision", detail=where)
    return get_job(runtime, job_id)


def stuck_clause(kinds: KindsConfig, now: datetime) -> ColumnElement[bool]:
    """Active longer than the kind's threshold: running too long, or queued with no progress."""
    per_kind = [
        and_(
            Job.kind == kind.name,
            func.coalesce(Job.started_at, Job.created_at)
            <= now - timedelta(seconds=kind.stuck_after_seconds),
        )
        for kind in kinds.kinds.values()
    ]
    return and_(Job.status.in_([s.value for s in ACTIVE]), or_(false(), *per_kind))


def check_now(runtime: Runtime, response_id: str) -> bool:
    """A webhook says this response changed: make its job's check due and wake the follow pulse.

    False when no active job is waiting on that response: a repeat after the finish,
    someone else's response, or one whose ID the start has not stored yet (remembered,
    see `worker.early`).
    """
    now = utcnow()
    with runtime.unit() as unit:
        job_id = unit.session.scalar(
            select(Attempt.job_id)
            .join(Job, Job.id == Attempt.job_id)
            .where(
                Attempt.response_id == response_id,
                Attempt.number == Job.attempts,
                Job.status.in_([s.value for s in ACTIVE]),
            )
        )
        if job_id is None:
            early.remember(runtime.redis, response_id)
            return False
        unit.session.execute(update(Job).where(Job.id == job_id).values(next_check_at=now))
    wake(runtime.redis, "follow")
    return True
