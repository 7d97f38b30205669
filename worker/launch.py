"""The launch pulse: start every queued attempt that is free to start, many at once.

Launching from the database rather than from one queued task per job keeps the order
in our hands (priority first, then age) and survives a flushed Redis by construction:
a queued job with no response is simply launched. A start is safe to run twice and to
be killed anywhere: the attempt and its idempotency key exist before the call, a claim
with a lease marks the call in flight, and the response ID is stored the moment it is
known. A start killed mid-call is launched again after the lease, with the same key.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from datetime import timedelta

from openai.types.responses import Response

from models.signals import arrived_early, response_changed
from models.status import PROVIDER_PENDING
from models.store.attempt import Launch, delay_start, fail_start, note_started, record_created
from models.store.claim import claim_launches
from models.store.observations import apply_observation
from models.store.waiting import hold_queued
from worker.answers import observation
from worker.context import Context
from worker.provider import CreateRequest, ProviderError

log = logging.getLogger(__name__)

BATCH = 50  # launches claimed per tick: small, so a tick ends (and yields) in seconds
# A failed launch is tried again soon: the breaker, not this delay, protects a
# struggling provider, and a short delay keeps the priority order on recovery.
RETRY_DELAY = timedelta(seconds=1)
HELD = (
    "Waiting to start: the AI provider is failing right now. Errand will start this "
    "job by itself as soon as it recovers."
)


def launch_due(ctx: Context, executor: Executor, *, limit: int = BATCH) -> int:
    """Claim up to `limit` launches (fewer while the breaker holds) and run them concurrently."""
    allowed = ctx.breaker.launches_allowed(limit)
    if allowed < limit:
        _hold(ctx)
    if allowed == 0:
        return 0
    lease = timedelta(seconds=ctx.settings.start_lease)
    claimed = claim_launches(ctx.db, limit=allowed, lease=lease)
    outcomes = executor.map(lambda launch: start(ctx, launch), claimed)
    return sum(1 for outcome in outcomes if outcome == "started")


def _hold(ctx: Context) -> None:
    """Tell waiting jobs why they wait (once each), and on-call once per outage."""
    trip = ctx.breaker.trip_id()
    if trip is None:
        return
    if ctx.redis.set(f"errand:breaker:alerted:{trip}", "1", nx=True, ex=86400):
        ctx.notifier.alert(
            "The AI provider is failing: Errand is holding new jobs and still following "
            "the ones in flight. It resumes by itself when provider calls succeed again."
        )
    hold_queued(ctx.db, HELD, outage=trip)


def start(ctx: Context, launch: Launch) -> str:
    """Call create for a launch this worker holds the lease of, and record the outcome."""
    kind = ctx.kinds.get(launch.kind)
    request = CreateRequest(
        launch.job_id, launch.attempt, launch.idempotency_key, launch.input_text, kind
    )
    try:
        response = ctx.provider.create(request)
    except ProviderError as error:
        return _create_failed(ctx, launch, error)
    _created(ctx, launch, response)
    log.info("started", extra={"job_id": launch.job_id, "response_id": response.id})
    return "started"


def _created(ctx: Context, launch: Launch, response: Response) -> None:
    kind = ctx.kinds.get(launch.kind)
    webhooks = ctx.settings.webhooks_enabled
    policy = kind.webhook_follow if webhooks else kind.follow
    first = timedelta(seconds=policy.interval(0))
    detail = f"response {response.id} on {kind.model} ({kind.lane} lane)"
    with ctx.db.unit() as unit:
        stop = record_created(
            unit.session, launch, response.id, str(response.status), first_check=first
        )
        note_started(unit.session, launch.job_id, response.id, detail)
        if response.status not in PROVIDER_PENDING:
            apply_observation(unit.session, ctx.kinds, observation(response), webhooks=webhooks)
    if stop:
        ctx.dispatch.stop(launch.job_id)
    if webhooks and arrived_early(ctx.redis, response.id):
        response_changed(ctx.db, ctx.redis, response.id)


def _create_failed(ctx: Context, launch: Launch, error: ProviderError) -> str:
    log.warning("create failed", extra={"job_id": launch.job_id, "reason": error.reason})
    if error.transient:
        wait = max(RETRY_DELAY, timedelta(seconds=error.retry_after or 0))
        delay_start(ctx.db, launch, error.reason, wait)
        return "will retry"
    return "failed" if fail_start(ctx.db, launch, error.reason) else "already settled"
