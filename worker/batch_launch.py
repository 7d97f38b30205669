"""Launching a batch lane attempt: the rows written as a Batch API input file (one
`POST /v1/responses` request per row, `custom_id` its row number), uploaded, and the batch
created once, under the same honest-start rules as a response (`worker.launch`).

An upload makes no batch, so a failed upload counts as nothing made. The create is not
idempotent: one whose answer never came may have made a batch, so the attempt's next
claim first looks for a batch whose metadata names the attempt, and adopts it rather
than create a second. A batch that comes to light any other way (a webhook) is adopted
by its attempt or cancelled as an extra, as responses are (`worker.responses`).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from openai.types import Batch

from models.base import utcnow
from models.kinds import FollowPolicy, Kind
from models.rows import Rows, row_prompt
from models.signals import arrived_early, response_changed, stray_again
from models.store.attempt import Launch, Recorded, note_extra, note_started, record_response
from models.store.batch import adopted, load_rows, renew_claim
from worker.batch_api import ENDPOINT
from worker.context import Context
from worker.provider import ErrorClass, ProviderError

log = logging.getLogger(__name__)

LOOK_BACK = timedelta(minutes=5)  # before the attempt opened: clocks differ a little
TRY_AGAIN = 10.0  # seconds before an extra batch whose cancel went unanswered is tried again
CLAIM_LOST = "claim lost"


def start_batch(ctx: Context, launch: Launch, kind: Kind) -> Recorded | str:
    """Adopt the batch an earlier unanswered create made, or upload the rows and create one;
    store it for the attempt. ProviderError for a call that went wrong (an upload's counts
    as nothing made)."""
    metadata = batch_metadata(launch.job_id, launch.attempt, kind.name)
    found = _earlier(ctx, launch, metadata)
    if found is not None:
        adopted(ctx.db, launch)
        return take_batch(ctx, launch.job_id, launch.attempt, found, kind)
    file_id = _upload(ctx, launch, kind)
    if not renew_claim(ctx.db, launch, utcnow() + timedelta(seconds=ctx.settings.start_lease)):
        return CLAIM_LOST  # the upload outlasted the lease: another claim creates
    made = ctx.provider.batches.create(file_id, metadata)
    return take_batch(ctx, launch.job_id, launch.attempt, made, kind)


def batch_metadata(job_id: str, attempt: int, kind: str) -> dict[str, str]:
    return {"job_id": job_id, "attempt": str(attempt), "kind": kind}


def _earlier(ctx: Context, launch: Launch, metadata: dict[str, str]) -> Batch | None:
    """A batch an earlier create of this attempt made though its answer never came."""
    if not launch.earlier_creates:
        return None
    since = (launch.opened_at or utcnow()) - LOOK_BACK
    found = ctx.provider.batches.find(metadata, since)
    if found is not None:
        log.info("adopting an earlier create's batch", extra={"job_id": launch.job_id})
    return found


def _upload(ctx: Context, launch: Launch, kind: Kind) -> str:
    rows = load_rows(ctx.db, launch.job_id)
    data = input_file(rows, kind, launch.input_text, launch.model)
    name = f"errand-{launch.job_id}-{launch.attempt}.jsonl"
    try:
        return ctx.provider.batches.upload(name, data)
    except ProviderError as error:
        if error.cls is not ErrorClass.UNKNOWN:
            raise
        raise ProviderError(  # an upload makes a file, never a batch: nothing was started
            error.reason, cls=ErrorClass.TRANSIENT, status=error.status, code=error.code
        ) from error


def input_file(rows: Rows, kind: Kind, instructions: str, model: str) -> bytes:
    """The Batch API input file: the kind's and the requester's instructions for every
    row, each row's columns as its input, within the kind's output allowance."""
    system = f"{kind.instructions}\n\nInstructions:\n{instructions}".strip()
    lines = (
        json.dumps(
            {
                "custom_id": str(number),
                "method": "POST",
                "url": ENDPOINT,
                "body": {
                    "model": model,
                    "instructions": system,
                    "input": row_prompt(rows.columns, row),
                    "max_output_tokens": kind.max_output_tokens,
                    "store": False,
                },
            },
            ensure_ascii=False,
        )
        for number, row in enumerate(rows.rows, start=1)
    )
    return ("\n".join(lines) + "\n").encode("utf-8")


def take_batch(ctx: Context, job_id: str, number: int, batch: Batch, kind: Kind | None) -> Recorded:
    """Store the batch for attempt `number` of the job, or cancel it as an extra."""
    webhooks = ctx.settings.webhooks_enabled
    policy = (kind.webhook_follow if webhooks else kind.follow) if kind else FollowPolicy()
    with ctx.db.unit() as unit:
        recorded = record_response(
            unit.session,
            job_id,
            number,
            batch.id,
            batch.status,
            first_check=timedelta(seconds=policy.interval(0)),
        )
        if recorded is Recorded.NEW:
            detail = f"batch {batch.id} of /v1/responses requests ({kind.lane if kind else '?'})"
            note_started(unit.session, job_id, batch.id, detail)
    if recorded is Recorded.EXTRA:
        cancel_extra_batch(ctx, job_id, batch.id)
    elif webhooks and arrived_early(ctx.redis, batch.id):
        response_changed(ctx.db, ctx.redis, batch.id)
    log.info("batch stored", extra={"job_id": job_id, "batch_id": batch.id, "as": recorded.value})
    return recorded


def cancel_extra_batch(ctx: Context, job_id: str, batch_id: str) -> str:
    """Cancel a batch its job does not follow, and note it on the job's record."""
    try:
        outcome = f"cancelled ({ctx.provider.batches.cancel(batch_id).status})"
    except ProviderError as error:
        outcome = f"not cancelled: {error.reason}"
        if error.transient:
            stray_again(ctx.redis, batch_id, after=TRY_AGAIN)
            outcome = "cancel failed; it is tried again"
    note_extra(ctx.db, job_id, batch_id, outcome)
    log.warning("extra batch", extra={"job_id": job_id, "batch_id": batch_id})
    return outcome


def settle_batch_stray(ctx: Context, batch_id: str) -> str:
    """A batch a webhook told of that no attempt holds: its metadata says whose it is."""
    batch = ctx.provider.batches.retrieve(batch_id)
    meta = batch.metadata or {}
    job_id, number = meta.get("job_id"), str(meta.get("attempt", ""))
    if not job_id or not number.isdigit():
        return "not ours"
    kind = ctx.kinds.kinds.get(meta.get("kind", ""))
    return take_batch(ctx, job_id, int(number), batch, kind).value
