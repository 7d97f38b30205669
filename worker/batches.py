"""Following a batch lane job: each look at its batch (polled by the follow pulse, or made
due by a `batch.*` webhook), and its cancel.

While the batch runs, a look is its status and `request_counts` (the card's progress).
At its end the output and error files are read into the results file here, before the
store records the end, so a look that cannot read them (the provider busy) changes
nothing and is simply made again later.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from openai.types import Batch

from models.batch import PENDING, BatchSeen, batch_refused
from models.rows import results_csv
from models.store.batch import apply_batch, load_rows
from models.store.checks import delay_check
from worker.batch_output import read_results
from worker.context import Context
from worker.provider import ProviderError

log = logging.getLogger(__name__)

AFTER_CANCEL = timedelta(seconds=2)  # a cancelling batch is looked at again this soon


def look(ctx: Context, job_id: str, batch_id: str) -> BatchSeen | ProviderError:
    """The batch now (with its results, if it has ended), or why it could not be read."""
    try:
        return seen(ctx, job_id, ctx.provider.batches.retrieve(batch_id))
    except ProviderError as error:
        return error


def seen(ctx: Context, job_id: str, batch: Batch) -> BatchSeen:
    """What the store records of `batch`; at its end, its rows' results read in."""
    counts = batch.request_counts.model_dump() if batch.request_counts else {}
    if batch.status in PENDING:
        return BatchSeen(batch.id, batch.status, counts)
    if batch.status == "failed":
        errors = batch.errors.data if batch.errors and batch.errors.data else []
        said = "; ".join(f"line {e.line}: {e.code}: {e.message}" for e in errors)
        codes = [str(e.code) for e in errors if e.code]
        return BatchSeen(
            batch.id, batch.status, counts, error=batch_refused(codes), provider_error=said
        )
    rows = load_rows(ctx.db, job_id)
    named = (batch.output_file_id, batch.error_file_id)
    files = [ctx.provider.batches.content(file_id) for file_id in named if file_id]
    results = read_results(len(rows), *files)
    csv = results_csv(rows, results.cells)
    return BatchSeen(batch.id, batch.status, counts, csv, results.tally, results.usage or None)


def cancel_batch(ctx: Context, job_id: str, batch_id: str) -> str:
    """Ask the provider to cancel; the batch ends `cancelled` a little later, with the rows
    done so far delivered. A batch that had already ended is recorded as it ended."""
    try:
        batch = ctx.provider.batches.cancel(batch_id)
    except ProviderError as error:
        if error.transient:
            raise
        if error.status == 404:
            return "provider lost the batch"
        batch = ctx.provider.batches.retrieve(batch_id)  # it ended before the cancel
    found = seen(ctx, job_id, batch)
    with ctx.db.unit() as unit:
        apply_batch(unit.session, ctx.kinds, found, webhooks=ctx.settings.webhooks_enabled)
    if found.pending:
        delay_check(ctx.db, job_id, AFTER_CANCEL)
    log.info("batch cancel sent", extra={"job_id": job_id, "provider_status": batch.status})
    return str(batch.status)
