"""Responses a worker learns of, and what becomes of each: stored for its attempt, or
cancelled at once as an extra.

A response comes to light three ways: a create's answer (`worker.launch`), a webhook for a
response no job holds (`models.signals`: a create whose answer never came made it), and
a retrieve of such a stray, whose metadata names its job and attempt. The attempt keeps
the first it stores (`models.store.attempt.record_response`); every other one is an
extra, cancelled so that nobody pays for it longer than it takes to notice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from openai.types.responses import Response

from models.kinds import FollowPolicy, Kind
from models.signals import (
    arrived_early,
    response_changed,
    stray_again,
    stray_settled,
    take_strays,
)
from models.status import PROVIDER_PENDING
from models.store.attempt import Recorded, note_extra, note_started, record_response
from models.store.checks import holder
from worker.answers import apply
from worker.batch_launch import settle_batch_stray
from worker.context import Context
from worker.provider import ProviderError

log = logging.getLogger(__name__)

SETTLE_AFTER = 2.0  # seconds a delivery for an unknown response waits for its create's answer
STRAY_BATCH = 20
# A webhook's ID names a batch or a response; the provider's IDs say which by their prefix.
BATCH_ID = "batch_"
TRY_AGAIN = 10.0  # seconds before a stray the provider did not answer about is looked at again


def take_response(
    ctx: Context, job_id: str, number: int, response: Response, kind: Kind | None
) -> Recorded:
    """Store the response for attempt `number` of the job, or cancel it as an extra."""
    webhooks = ctx.settings.webhooks_enabled
    with ctx.db.unit() as unit:
        recorded = record_response(
            unit.session,
            job_id,
            number,
            response.id,
            str(response.status),
            first_check=_first_check(kind, webhooks=webhooks),
        )
        if recorded is Recorded.NEW:
            detail = f"response {response.id} on {response.model} ({kind.lane if kind else '?'})"
            note_started(unit.session, job_id, response.id, detail)
            if response.status not in PROVIDER_PENDING:
                apply(unit.session, ctx.kinds, response, webhooks=webhooks)
    if recorded is Recorded.EXTRA:
        cancel_extra(ctx, job_id, response.id)
    elif webhooks and arrived_early(ctx.redis, response.id):
        response_changed(ctx.db, ctx.redis, response.id)
    return recorded


def _first_check(kind: Kind | None, *, webhooks: bool) -> timedelta:
    policy = (kind.webhook_follow if webhooks else kind.follow) if kind else FollowPolicy()
    return timedelta(seconds=policy.interval(0))


def cancel_extra(ctx: Context, job_id: str, response_id: str) -> str:
    """Cancel a response its job does not follow, and note it on the job's record."""
    try:
        outcome = f"cancelled ({ctx.provider.cancel(response_id).status})"
    except ProviderError as error:
        if not error.transient:
            outcome = f"not cancelled: {error.reason}"
        else:
            stray_again(ctx.redis, response_id, after=TRY_AGAIN)
            outcome = "cancel failed; it is tried again"
    note_extra(ctx.db, job_id, response_id, outcome)
    log.warning("extra response", extra={"job_id": job_id, "response_id": response_id})
    return outcome


def settle_strays(ctx: Context) -> int:
    """Adopt or cancel each response a webhook told of that no attempt holds yet."""
    strays = take_strays(ctx.redis, older_than=SETTLE_AFTER, limit=STRAY_BATCH)
    for response_id in strays:
        try:
            _settle(ctx, response_id)
        except ProviderError as error:
            log.warning("stray not settled", extra={"response_id": response_id})
            if error.transient:
                stray_again(ctx.redis, response_id, after=TRY_AGAIN)
            else:
                stray_settled(ctx.redis, response_id)
        else:
            stray_settled(ctx.redis, response_id)
    return len(strays)


def _settle(ctx: Context, response_id: str) -> str:
    """Known by now (its create's answer came): nothing. Else its metadata says whose it
    is: the attempt takes it if it has none (its create's answer never came), or it is
    cancelled as an extra."""
    if holder(ctx.db, response_id) is not None:
        return "known"
    if response_id.startswith(BATCH_ID):
        return settle_batch_stray(ctx, response_id)
    response = ctx.provider.retrieve(response_id)
    meta = response.metadata or {}
    job_id, number = meta.get("job_id"), str(meta.get("attempt", ""))
    if not job_id or not number.isdigit():
        return "not ours"
    kind = ctx.kinds.kinds.get(meta.get("kind", ""))
    recorded = take_response(ctx, job_id, int(number), response, kind)
    log.info("stray settled", extra={"job_id": job_id, "response_id": response_id})
    return recorded.value
