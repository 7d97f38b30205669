"""Job statuses and the rules between them: which changes are allowed, and what the
provider's statuses mean for ours. Pure data; the store applies the changes."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """What a person sees; stored as the lowercase string."""

    AWAITING_APPROVAL = "awaiting_approval"  # over its requester's budget: an approver decides
    QUEUED = "queued"  # accepted; not yet running at the provider
    RUNNING = "running"  # the provider is working on it
    NEEDS_REVIEW = "needs_review"  # finished, waiting for an approver before delivery
    COMPLETED = "completed"  # delivered
    FAILED = "failed"  # ended without a usable result
    CANCELED = "canceled"  # stopped by a person
    EXPIRED = "expired"  # stopped for running past its deadline, or no approver decided in time
    REJECTED = "rejected"  # an approver refused the result


TERMINAL = frozenset(
    {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELED,
        JobStatus.EXPIRED,
        JobStatus.REJECTED,
    }
)
ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
# Never reached the provider, or still may: a person can cancel these.
CANCELABLE = ACTIVE | {JobStatus.AWAITING_APPROVAL}
RETRYABLE = frozenset({JobStatus.FAILED, JobStatus.CANCELED, JobStatus.EXPIRED})
# A follow-up may continue a job that ended, once it has an answer to continue from.
CONTINUABLE = RETRYABLE | {JobStatus.COMPLETED}
# Queued, running (perhaps stuck) or failed: a requester may ask on-call to look, once.
ESCALATABLE = ACTIVE | {JobStatus.FAILED}
# Statuses with something to tell the requester (or an approver): under a backlog their
# news goes first.
RESULTS = TERMINAL | {JobStatus.NEEDS_REVIEW, JobStatus.AWAITING_APPROVAL}

# For each target status, the statuses a job may move to it from.
SOURCES: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.AWAITING_APPROVAL: frozenset({JobStatus.QUEUED}),
    # From completed: a follow-up in the job's thread, as its next turn.
    JobStatus.QUEUED: RETRYABLE
    | {JobStatus.RUNNING, JobStatus.AWAITING_APPROVAL, JobStatus.REJECTED, JobStatus.COMPLETED},
    JobStatus.RUNNING: frozenset({JobStatus.QUEUED}),
    JobStatus.NEEDS_REVIEW: ACTIVE,
    JobStatus.COMPLETED: ACTIVE | {JobStatus.NEEDS_REVIEW},
    JobStatus.FAILED: ACTIVE,
    JobStatus.CANCELED: CANCELABLE,
    # From awaiting_approval: no approver decided in time (`models.store.stops`).
    JobStatus.EXPIRED: ACTIVE | {JobStatus.NEEDS_REVIEW, JobStatus.AWAITING_APPROVAL},
    JobStatus.REJECTED: frozenset({JobStatus.NEEDS_REVIEW, JobStatus.AWAITING_APPROVAL}),
}

# Provider statuses of a response that is still being worked on.
PROVIDER_PENDING = frozenset({"queued", "in_progress"})


def values(statuses: frozenset[JobStatus]) -> list[str]:
    """The stored strings of `statuses`, in a stable order, for SQL `IN` clauses."""
    return sorted(s.value for s in statuses)


def product_status(provider_status: str, *, review: bool, produced: bool = False) -> JobStatus:
    """Map a provider status to ours through the kind's policy.

    `incomplete` (cut by max_output_tokens or a content filter) that `produced` text is
    delivered like a finished answer, marked as cut off wherever it is shown (its error
    says why): what was written is worth having. One that produced nothing has failed.
    """
    if provider_status == "completed" or (provider_status == "incomplete" and produced):
        return JobStatus.NEEDS_REVIEW if review else JobStatus.COMPLETED
    mapping = {
        "queued": JobStatus.QUEUED,
        "in_progress": JobStatus.RUNNING,
        "failed": JobStatus.FAILED,
        "cancelled": JobStatus.CANCELED,
        "incomplete": JobStatus.FAILED,
    }
    try:
        return mapping[provider_status]
    except KeyError:
        raise ValueError(f"unknown provider status {provider_status!r}") from None
