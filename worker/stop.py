"""Cancelling or expiring a job at the provider, ending in whatever the provider reached."""

from __future__ import annotations

import logging

from openai.types.responses import Response

from errand.runtime import Runtime
from models.base import utcnow
from models.job import Attempt, Job
from models.lifecycle import ACTIVE, JobStatus, TransitionRefused, transition
from worker.finish import observe
from worker.provider import ProviderError
from worker.start import start

log = logging.getLogger(__name__)

TOO_LATE = "cannot cancel"


def stop(runtime: Runtime, job_id: str) -> str:
    """Carry out a requested cancel or expiry; safe to repeat."""
    with runtime.unit() as unit:
        job = unit.session.get(Job, job_id)
        if job is None or job.status not in ACTIVE or not job.stop_requested:
            return "nothing to stop"
        attempt = next((a for a in job.attempt_rows if a.number == job.attempts), None)
        response_id = attempt.response_id if attempt else None
        if response_id is None and not _create_may_be_in_flight(attempt):
            _end_without_provider(runtime, job)
            return "stopped before start"
    if response_id is None:
        # A create may have reached the provider before its worker died: re-run
        # it with the same key; `start` cancels the response once it has its ID.
        return start(runtime, job_id)
    return _cancel_at_provider(runtime, job_id, response_id)


def _create_may_be_in_flight(attempt: Attempt | None) -> bool:
    return attempt is not None and attempt.create_calls > 0


def _end_without_provider(runtime: Runtime, job: Job) -> None:
    target = JobStatus.EXPIRED if job.stop_requested == JobStatus.EXPIRED else JobStatus.CANCELED
    with runtime.unit() as unit:
        try:
            transition(
                unit.session,
                job.id,
                target,
                actor=job.stop_requested_by or "errand",
                action=target.value,
                values={"next_check_at": None},
                notice=target.value,
                detail="stopped before it reached the provider",
            )
        except TransitionRefused:
            return


def _cancel_at_provider(runtime: Runtime, job_id: str, response_id: str) -> str:
    response: Response | None
    try:
        response = runtime.provider.cancel(response_id)
    except ProviderError as error:
        if error.transient:
            raise
        if TOO_LATE not in error.reason.lower() and error.status != 404:
            raise
        response = _reread(runtime, response_id, error)
    if response is None:
        return "provider lost the response"
    return _apply(runtime, job_id, response)


def _reread(runtime: Runtime, response_id: str, error: ProviderError) -> Response | None:
    """The provider refused because it already finished: read what it reached."""
    log.info(
        "cancel too late; reading the result",
        extra={"response_id": response_id, "reason": error.reason},
    )
    return runtime.provider.retrieve(response_id) if error.status != 404 else None


def _apply(runtime: Runtime, job_id: str, response: Response) -> str:
    observe(runtime, response)
    log.info(
        "stop applied",
        extra={"job_id": job_id, "provider_status": response.status, "at": utcnow().isoformat()},
    )
    return str(response.status)
