"""Cancelling or expiring a job at the provider, ending in whatever the provider reached.

Runs as an RQ task (`worker.tasks.stop_job`), retried by RQ when the provider is busy
or away; safe to repeat, since a stop that already landed finds nothing to do.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from openai.types.responses import Response

from models.errors import JobNotFound
from models.store.claim import claim_launches
from models.store.observations import apply_observation
from models.store.stops import StopRequest, pending_stop, stop_before_start
from worker.answers import observation
from worker.context import Context
from worker.launch import start
from worker.provider import ProviderError

log = logging.getLogger(__name__)

TOO_LATE = "cannot cancel"


def stop(ctx: Context, job_id: str) -> str:
    """Carry out a requested cancel or expiry; returns what happened, for logs and tests."""
    try:
        request = pending_stop(ctx.db, job_id)
    except JobNotFound:
        return "nothing to stop"
    if request is None:
        return "nothing to stop"
    if request.response_id is not None:
        return _cancel_at_provider(ctx, request.job_id, request.response_id)
    if request.create_calls == 0:
        stop_before_start(ctx.db, request)
        return "stopped before start"
    return _start_to_cancel(ctx, request)


def _start_to_cancel(ctx: Context, request: StopRequest) -> str:
    """A create may have reached the provider before its worker died: run it again with
    the same key; the start dispatches this stop again once it has the response's ID."""
    lease = timedelta(seconds=ctx.settings.start_lease)
    claimed = claim_launches(ctx.db, limit=1, lease=lease, job_id=request.job_id)
    return start(ctx, claimed[0]) if claimed else "nothing to start"


def _cancel_at_provider(ctx: Context, job_id: str, response_id: str) -> str:
    response: Response | None
    try:
        response = ctx.provider.cancel(response_id)
    except ProviderError as error:
        if error.transient:
            raise
        if TOO_LATE not in error.reason.lower() and error.status != 404:
            raise
        response = _reread(ctx, response_id, error)
    if response is None:
        return "provider lost the response"
    with ctx.db.unit() as unit:
        webhooks = ctx.settings.webhooks_enabled
        apply_observation(unit.session, ctx.kinds, observation(response), webhooks=webhooks)
    log.info("stop applied", extra={"job_id": job_id, "provider_status": response.status})
    return str(response.status)


def _reread(ctx: Context, response_id: str, error: ProviderError) -> Response | None:
    """The provider refused because it already finished: read what it reached."""
    log.info(
        "cancel too late; reading the result",
        extra={"response_id": response_id, "reason": error.reason},
    )
    return ctx.provider.retrieve(response_id) if error.status != 404 else None
