"""What a job cost at the provider, from both sides: Errand's record and the stand-in's.

The provider's create is not idempotent, so a test of start-once asserts what the
product can promise: at most two create calls per attempt, one response followed, and
every other response it made cancelled or found (none orphaned: billed and never seen).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from models.export import job_detail
from models.store.queries import get_job, history
from tests.support.stack import Stack

MAX_CREATES_PER_ATTEMPT = 2
# A response a webhook revealed is settled (taken by its attempt, or cancelled) a couple of
# seconds after its webhook (`worker.responses.SETTLE_AFTER`): possibly after its job ended.
SETTLE_WITHIN = 10.0


def stored(stack: Stack, job_id: str) -> dict[str, Any]:
    """The job as `errand jobs show --json` prints it, read in this process (the CLI
    takes seconds to start on a busy machine, and some tests read many jobs)."""
    return job_detail(get_job(stack.db, job_id), history(stack.db, job_id))


def creates(stack: Stack, job_id: str) -> list[dict[str, Any]]:
    """The create calls that reached the provider for the job, oldest first."""
    return stack.openai.requests(endpoint="create", **{"metadata.job_id": job_id})


def assert_paid_once(stack: Stack, job_id: str) -> dict[str, Any]:
    """The job's creates within the limit, one response followed, no orphan; returns the
    stand-in's ledger of the job."""
    record = stored(stack, job_id)
    sent = creates(stack, job_id)
    # Errand counts a create before sending it: a worker killed in between counts one
    # the provider never saw (never the other way round).
    assert len(sent) <= record["provider_creates"] <= len(sent) + 1, (
        record["provider_creates"],
        sent,
    )
    per_attempt = Counter(str(r["metadata"]["attempt"]) for r in sent)
    assert max(per_attempt.values(), default=0) <= MAX_CREATES_PER_ATTEMPT, per_attempt
    ledger = _settled(stack, job_id)
    assert ledger["orphans"] == [], ledger
    if record["provider_response_id"]:
        assert record["provider_response_id"] in ledger["responses"], (record, ledger)
    return ledger


def _settled(stack: Stack, job_id: str) -> dict[str, Any]:
    """The stand-in's ledger of the job once it has no orphan, or after SETTLE_WITHIN."""
    deadline = time.monotonic() + SETTLE_WITHIN
    ledger = stack.openai.job(job_id)
    while ledger["orphans"] and time.monotonic() < deadline:
        time.sleep(0.2)
        ledger = stack.openai.job(job_id)
    return ledger
