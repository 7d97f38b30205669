"""Starting an attempt at the provider, safe to run twice and to be killed anywhere.

The attempt and its idempotency key exist before the call; a claim with a
lease marks the call in flight; the response ID is stored the moment it is
known. A start killed mid-call is re-driven after the lease, with the same
key, so the provider returns the response it already made. (The stand-in honours
the key; a provider that ignores it can only be protected by the lease, which then
narrows the window for a second response without closing it.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from openai.types.responses import Response
from sqlalchemy import update
from sqlalchemy.orm import Session

from errand.jobs import check_now
from errand.runtime import Runtime, Unit
from models.base import utcnow
from models.job import Attempt, Job
from models.lifecycle import JobStatus, TransitionRefused, add_notice, record_event, transition
from models.tables import attempts, jobs
from worker import early
from worker.finish import apply_response
from worker.provider import CreateRequest, ProviderError

log = logging.getLogger(__name__)

# A failed launch is tried again soon: the breaker, not this delay, protects a
# struggling provider, and a short delay keeps the priority order on recovery.
START_RETRY_DELAY = timedelta(seconds=1)


@dataclass(frozen=True)
class Claimed:
    """A start this worker may perform now."""

    request: CreateRequest
    attempt_id: int


def start(runtime: Runtime, job_id: str) -> str:
    """Launch the job's current attempt; returns what happened, for logs and tests."""
    claimed = claim_start(runtime, job_id)
    if claimed is None:
        return "nothing to start"
    return run_claimed(runtime, claimed)


def run_claimed(runtime: Runtime, claimed: Claimed) -> str:
    """Call create for a start this worker holds the lease of, and record the outcome."""
    try:
        response = runtime.provider.create(claimed.request)
    except ProviderError as error:
        return _create_failed(runtime, claimed, error)
    return _created(runtime, claimed, response)


def claim_start(runtime: Runtime, job_id: str) -> Claimed | None:
    """Take the launch lease if the job is queued and its attempt has no response yet."""
    now = utcnow()
    with runtime.unit() as unit:
        job = unit.session.get(Job, job_id)
        if job is None or job.status != JobStatus.QUEUED:
            return None
        attempt = _current_attempt(job)
        if attempt is None or attempt.response_id is not None:
            return None
        taken = unit.session.execute(
            update(Attempt)
            .where(Attempt.id == attempt.id, Attempt.response_id.is_(None))
            .where(Attempt.claimed_until.is_(None) | (Attempt.claimed_until <= now))
            .values(
                claimed_until=now + timedelta(seconds=runtime.settings.start_lease),
                create_calls=Attempt.create_calls + 1,
            )
        ).rowcount  # type: ignore[attr-defined]
        if taken != 1:
            return None
        kind = runtime.kinds.get(job.kind)
        request = CreateRequest(
            job.id, attempt.number, attempt.idempotency_key, job.input_text, kind
        )
        return Claimed(request, attempt.id)


def _current_attempt(job: Job) -> Attempt | None:
    return next((a for a in job.attempt_rows if a.number == job.attempts), None)


def _created(runtime: Runtime, claimed: Claimed, response: Response) -> str:
    job_id = claimed.request.job_id
    now = utcnow()
    kind = claimed.request.kind
    with runtime.unit() as unit:
        unit.session.execute(
            update(attempts)
            .where(attempts.c.id == claimed.attempt_id)
            .values(
                response_id=response.id,
                provider_status=response.status,
                started_at=now,
                claimed_until=None,
            )
        )
        first_check = kind.webhook_follow if runtime.settings.webhooks_enabled else kind.follow
        stop = unit.session.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(
                next_check_at=now + timedelta(seconds=first_check.interval(0)),
                started_at=now,
                progress_noted_at=now,
                wait_reason=None,
            )
            .returning(jobs.c.stop_requested)
        ).scalar_one()
        record_event(
            unit.session,
            job_id,
            "errand",
            "started",
            detail=f"response {response.id} on {kind.model} ({kind.lane} lane)",
        )
        _note_started(unit, job_id, response)
        if response.status not in ("queued", "in_progress"):
            apply_response(
                unit, runtime.kinds, response, webhooks=runtime.settings.webhooks_enabled
            )
        if stop:
            unit.later(lambda: runtime.dispatch.stop(job_id))
        if runtime.settings.webhooks_enabled:
            unit.later(lambda: _catch_up_early_webhook(runtime, response.id))
    log.info("started", extra={"job_id": job_id, "response_id": response.id})
    return "started"


def _catch_up_early_webhook(runtime: Runtime, response_id: str) -> None:
    """A delivery that came before the ID was stored makes the check due now."""
    if early.arrived(runtime.redis, response_id):
        check_now(runtime, response_id)


def _note_started(unit: Unit, job_id: str, response: Response) -> None:
    add_notice(
        unit.session,
        job_id,
        "started",
        key=f"started:{response.id}",
        detail={"response_id": response.id},
    )


def _create_failed(runtime: Runtime, claimed: Claimed, error: ProviderError) -> str:
    job_id = claimed.request.job_id
    log.warning("create failed", extra={"job_id": job_id, "reason": error.reason})
    with runtime.unit() as unit:
        if error.transient:
            _release_for_later(unit.session, claimed, error)
            return "will retry"
        try:
            transition(
                unit.session,
                job_id,
                JobStatus.FAILED,
                actor="provider",
                action="start_failed",
                detail=error.reason,
                values={"error": error.reason},
                notice="failed",
            )
        except TransitionRefused:
            return "already settled"
        unit.session.execute(
            update(Attempt)
            .where(Attempt.id == claimed.attempt_id)
            .values(error=error.reason, finished_at=utcnow())
        )
    return "failed"


def _release_for_later(session: Session, claimed: Claimed, error: ProviderError) -> None:
    wait = max(START_RETRY_DELAY, timedelta(seconds=error.retry_after or 0))
    session.execute(
        update(Attempt)
        .where(Attempt.id == claimed.attempt_id)
        .values(claimed_until=utcnow() + wait, error=error.reason)
    )
    record_event(session, claimed.request.job_id, "provider", "start_delayed", detail=error.reason)
