"""The job lifecycle in one place: statuses, allowed transitions, and the one way to apply them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.tables import events, jobs, notices


class JobStatus(StrEnum):
    """What a person sees; stored as the lowercase string."""

    QUEUED = "queued"  # accepted; not yet running at the provider
    RUNNING = "running"  # the provider is working on it
    NEEDS_REVIEW = "needs_review"  # finished, waiting for an approver before delivery
    COMPLETED = "completed"  # delivered
    FAILED = "failed"  # ended without a usable result
    CANCELED = "canceled"  # stopped by a person
    EXPIRED = "expired"  # stopped for running past its deadline
    REJECTED = "rejected"  # an approver refused the result


TERMINAL = frozenset(
    {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELED,
        JobStatus.EXPIRED,
        JobStatus.REJECTED,
    }
)
ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
RETRYABLE = frozenset({JobStatus.FAILED, JobStatus.CANCELED, JobStatus.EXPIRED})

# For each target status, the statuses a job may move to it from.
SOURCES: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: RETRYABLE | {JobStatus.RUNNING},
    JobStatus.RUNNING: frozenset({JobStatus.QUEUED}),
    JobStatus.NEEDS_REVIEW: ACTIVE,
    JobStatus.COMPLETED: ACTIVE | {JobStatus.NEEDS_REVIEW},
    JobStatus.FAILED: ACTIVE,
    JobStatus.CANCELED: ACTIVE,
    JobStatus.EXPIRED: ACTIVE | {JobStatus.NEEDS_REVIEW},
    JobStatus.REJECTED: frozenset({JobStatus.NEEDS_REVIEW}),
}


class LifecycleError(Exception):
    """Base of the lifecycle's refusals; `code` is stable for callers to branch on."""

    code = "lifecycle_error"


class JobNotFound(LifecycleError):
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id}")
        self.job_id = job_id


class TransitionRefused(LifecycleError):
    """The job is not in a status the change is allowed from; says what it actually is."""

    code = "transition_refused"

    def __init__(self, job_id: str, current: str, target: str) -> None:
        super().__init__(f"job {job_id} is {current}; it cannot become {target}")
        self.job_id = job_id
        self.current = JobStatus(current)
        self.target = JobStatus(target)


@dataclass(frozen=True)
class Transition:
    """What a successful change did."""

    job_id: str
    from_status: JobStatus
    to_status: JobStatus


def transition(
    session: Session,
    job_id: str,
    target: JobStatus,
    *,
    actor: str,
    action: str,
    sources: frozenset[JobStatus] | None = None,
    detail: str | None = None,
    values: dict[str, Any] | None = None,
    notice: str | None = None,
) -> Transition:
    """Move a job to `target` with its event (and notice) in the caller's transaction.

    A compare-and-set on the status the job was read in: of two racing actors
    exactly one wins, and the other gets `TransitionRefused` naming the winner's
    status. The caller commits.
    """
    allowed = SOURCES[target] if sources is None else sources & SOURCES[target]
    for _ in range(5):
        current = session.scalar(select(jobs.c.status).where(jobs.c.id == job_id))
        if current is None:
            raise JobNotFound(job_id)
        if current not in allowed:
            raise TransitionRefused(job_id, current, target)
        if _compare_and_set(session, job_id, current, target, values or {}):
            change = Transition(job_id, JobStatus(current), target)
            event_id = record_event(
                session, job_id, actor, action, change.from_status, target, detail
            )
            if notice:
                add_notice(session, job_id, notice, key=f"{notice}:{event_id}")
            return change
    raise TransitionRefused(
        job_id, session.scalar(select(jobs.c.status).where(jobs.c.id == job_id)) or "?", target
    )


def _compare_and_set(
    session: Session, job_id: str, current: str, target: JobStatus, values: dict[str, Any]
) -> bool:
    now = utcnow()
    stamps: dict[str, Any] = {"status": target.value, "updated_at": now}
    if target in TERMINAL:
        stamps["finished_at"] = now
    stmt = (
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status == current)
        .values(**{**stamps, **values})
    )
    changed: int = session.execute(stmt).rowcount  # type: ignore[attr-defined]
    return changed == 1


def record_event(
    session: Session,
    job_id: str,
    actor: str,
    action: str,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: str | None = None,
) -> int:
    """Add one audit row and return its ID; for actions that change no status, from and
    to are left empty.

    One INSERT ... RETURNING, not an object for the session to flush: the worker writes
    an event for every start and finish, and the unit of work cost more than the row.
    The statement is built once and the row passed as parameters, which spares building
    its bind parameters on every call.
    """
    row = event_row(job_id, actor, action, from_status, to_status, detail=detail)
    event_id: int = session.execute(_ADD_EVENT, row).scalar_one()
    return event_id


def add_notice(
    session: Session,
    job_id: str,
    milestone: str,
    *,
    key: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Queue a milestone for the notifier in the same transaction as the change it reports."""
    row = notice_row(job_id, milestone, key=key, detail=detail)
    session.execute(_ADD_NOTICE, row)


def event_row(
    job_id: str,
    actor: str,
    action: str,
    from_status: str | None = None,
    to_status: str | None = None,
    *,
    detail: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """An audit row with every column given, so a statement that nests the INSERT (the
    bot's one-statement store of a new job) needs no column defaults."""
    return {
        "job_id": job_id,
        "at": at or utcnow(),
        "actor": actor,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "detail": detail,
    }


def notice_row(
    job_id: str,
    milestone: str,
    *,
    key: str,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A milestone row, due at once, with every column given (as `event_row`)."""
    at = at or utcnow()
    row = {"job_id": job_id, "key": key, "milestone": milestone, "detail": detail}
    return {**row, "created_at": at, "next_try_at": at, "tries": 0}


_ADD_EVENT = insert(events).returning(events.c.id)
_ADD_NOTICE = insert(notices)


def product_status(provider_status: str, *, review: bool) -> JobStatus:
    """Map a provider status to ours through the kind's policy.

    `incomplete` (cut by max_output_tokens or a content filter) is never a
    success: the person would get half an answer presented as whole.
    """
    if provider_status == "completed":
        return JobStatus.NEEDS_REVIEW if review else JobStatus.COMPLETED
    mapping = {
        "queued": JobStatus.QUEUED,
        "in_progress": JobStatus.RUNNING,
        "failed": JobStatus.FAILED,
        "cancelled": JobStatus.CANCELED,
        "incomplete": JobStatus.FAILED,
    }
    try:
        return mapping[provider_status]
    except KeyError:
        raise ValueError(f"unknown provider status {provider_status!r}") from None
