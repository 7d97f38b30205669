"""Cancelling or expiring a job at the provider, ending in whatever the provider reached.

Runs as an RQ task (`worker.tasks.stop_job`), retried by RQ when the provider is busy
or away; safe to repeat, since a stop that already landed finds nothing to do. It never
creates anything: a job with no response stops in the database alone (a create still in
flight for it is cancelled when it answers, `worker.responses`).
"""

from __future__ import annotations

import logging

from openai.types.responses import Response

from models.base import utcnow
from models.batch import LANE
from models.errors import JobNotFound
from models.store.stops import StopRequest, pending_stop, stop_before_start, stop_unheld
from worker.answers import apply
from worker.batches import cancel_batch
from worker.context import Context
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
    if request.response_id is not None and request.lane == LANE:
        return cancel_batch(ctx, request.job_id, request.response_id)
    if request.held_until is not None:
        return _stop_held(ctx, request)
    if request.response_id is not None:
        return _cancel_at_provider(ctx, request.job_id, request.response_id)
    stop_before_start(ctx.db, request)
    return "stopped before start"


def _stop_held(ctx: Context, request: StopRequest) -> str:
    """A held stream (zero data retention) is closed by the worker holding it, which sees
    the stop within a second; one whose claim has lapsed has no worker, and the provider
    keeps nothing to cancel, so the stop lands in the database alone. (While a holder
    lives, the recover pulse enqueues this task again until the stop has landed.)"""
    if request.held_until is not None and request.held_until > utcnow():
        return "its worker closes the stream"
    stop_unheld(ctx.db, request)
    return "stopped; its stream had ended"


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
        apply(unit.session, ctx.kinds, response, webhooks=ctx.settings.webhooks_enabled)
    log.info("stop applied", extra={"job_id": job_id, "provider_status": response.status})
    return str(response.status)


def _reread(ctx: Context, response_id: str, error: ProviderError) -> Response | None:
    """The provider refused because it already finished: read what it reached."""
    log.info(
        "cancel too late; reading the result",
        extra={"response_id": response_id, "reason": error.reason},
    )
    return ctx.provider.retrieve(response_id) if error.status != 404 else None
