"""What people do to a job (besides asking it to stop): retry it, decide on its result,
and the audit row of every button press, accepted or not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import Database
from models.errors import JobPurged, TransitionRefused
from models.ids import normalize_job_id
from models.job import Job
from models.kinds import KindsConfig
from models.status import RETRYABLE, JobStatus
from models.store.attempt import approve_attempt, open_attempt
from models.store.lifecycle import add_notice, record_event, transition
from models.store.queries import get_job

REJECTED = frozenset({JobStatus.REJECTED})


def request_retry(db: Database, kinds: KindsConfig, job_id: str, *, actor: str) -> Job:
    """Start a failed, canceled or expired job again as a new attempt. People may always
    try again; `max_attempts` caps only the automatic retries after provider failures."""
    job = get_job(db, job_id)
    if job.status not in RETRYABLE:
        raise TransitionRefused(job.id, job.status, JobStatus.QUEUED)
    if job.purged_at is not None:
        raise JobPurged(job.id)
    _again(db, kinds, job, actor=actor, action="retry", sources=RETRYABLE)
    return get_job(db, job.id)


def redraft(db: Database, kinds: KindsConfig, job_id: str, *, actor: str) -> Job:
    """A rejected draft, written again as a new attempt whose input carries the
    reviewer's reason, so the next draft answers the feedback."""
    job = get_job(db, job_id)
    if job.status != JobStatus.REJECTED:
        raise TransitionRefused(job.id, job.status, JobStatus.QUEUED)
    if job.purged_at is not None:
        raise JobPurged(job.id)
    feedback = (
        f"{job.input_text}\n\nA reviewer rejected the previous draft. Their feedback, "
        f"which the new draft must address:\n{job.decision_note or 'no reason given'}"
    )
    extra = {"input_text": feedback, "decided_by": None, "decided_at": None}
    _again(db, kinds, job, actor=actor, action="redraft", sources=REJECTED, values=extra)
    return get_job(db, job.id)


def _again(
    db: Database,
    kinds: KindsConfig,
    job: Job,
    *,
    actor: str,
    action: str,
    sources: frozenset[JobStatus],
    values: dict[str, Any] | None = None,
) -> None:
    """Queue the job again as attempt N+1, cleared of the last attempt's outcome."""
    number = job.attempts + 1
    deadline = utcnow() + timedelta(seconds=kinds.get(job.kind).timeout_seconds)
    fresh = {
        "attempts": number,
        "error": None,
        "provider_error": None,
        "output_text": None,
        "next_check_at": None,
        "stop_requested": None,
        "stop_requested_by": None,
        "finished_at": None,
        "deadline_at": deadline,
        "stuck_alerted_at": None,
    }
    with db.unit() as unit:
        transition(
            unit.session,
            job.id,
            JobStatus.QUEUED,
            actor=actor,
            action=action,
            sources=sources,
            notice="retrying",
            detail=f"attempt {number}",
            values={**fresh, **(values or {})},
        )
        open_attempt(unit.session, job.id, number)


def decide(
    db: Database,
    job_id: str,
    *,
    actor: str,
    approve: bool,
    note: str | None = None,
    where: dict[str, Any] | None = None,
) -> Job:
    """Approve or reject a job waiting for an approver; the first decision wins.

    In `needs_review`, approval delivers the result; in `awaiting_approval` (over its
    requester's budget), it lets the job start (`queued`). Rejection ends either. A
    compare-and-set from the status read: a second decision gets `TransitionRefused`,
    and the job's `decided_by` says who decided first. `where` (the request's channel and
    ts) rides on the notice so the notifier can update that message.
    """
    wanted = normalize_job_id(job_id)
    with db.unit() as unit:
        job = unit.session.get(Job, wanted)
        if job is not None and job.status == JobStatus.AWAITING_APPROVAL:
            _decide_start(unit.session, job, actor, approve, note, where)
        else:
            _decide_result(unit.session, wanted, actor, approve, note, where)
    return get_job(db, wanted)


def _decide_result(
    session: Session,
    job_id: str,
    actor: str,
    approve: bool,
    note: str | None,
    where: dict[str, Any] | None,
) -> None:
    target, milestone = (
        (JobStatus.COMPLETED, "approved") if approve else (JobStatus.REJECTED, "rejected")
    )
    transition(
        session,
        job_id,
        target,
        actor=actor,
        action=milestone,
        sources=frozenset({JobStatus.NEEDS_REVIEW}),
        detail=note,
        values={"decided_by": actor, "decided_at": utcnow(), "decision_note": note},
    )
    add_notice(session, job_id, milestone, key="decision", detail=where)


def _decide_start(
    session: Session,
    job: Job,
    actor: str,
    approve: bool,
    note: str | None,
    where: dict[str, Any] | None,
) -> None:
    """Approved: queued again, its attempt let past the budget, its deadline counted from
    now (it spent the wait with no one working on it). Rejected: it ends, reason told."""
    now = utcnow()
    values: dict[str, Any] = {"decided_by": actor, "decided_at": now, "decision_note": note}
    target, milestone = JobStatus.REJECTED, "rejected"
    if approve:
        target, milestone = JobStatus.QUEUED, "start_approved"
        values["wait_reason"] = None
        if job.deadline_at is not None:
            values["deadline_at"] = now + (job.deadline_at - job.created_at)
    sources = frozenset({JobStatus.AWAITING_APPROVAL})
    transition(
        session,
        job.id,
        target,
        actor=actor,
        action=milestone,
        sources=sources,
        detail=note,
        values=values,
    )
    if approve:
        approve_attempt(session, job.id, job.attempts, actor)
    add_notice(session, job.id, milestone, key=f"decision:start:{job.attempts}", detail=where)


def record_press(db: Database, job_id: str, *, actor: str, action: str, detail: str) -> None:
    """Audit one button press with its actor and what came of it."""
    with db.unit() as unit:
        record_event(unit.session, job_id, actor, f"press:{action}", detail=detail[:500])
