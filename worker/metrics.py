"""The worker's metrics: provider calls, how promptly checks and results go out, pulses."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

from models.notifier import Milestone

LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
SLACK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

PROVIDER_CALLS = Counter(
    "errand_provider_calls_total",
    "Calls to the provider by endpoint (create, retrieve, cancel, stream) and outcome "
    "(ok, transient, unknown: no answer to a sent call, config, refused)",
    ["endpoint", "outcome"],
)
COST = Counter(
    "errand_cost_usd_total",
    "USD of provider responses as recorded when they finish (tokens at the tier used, "
    "plus tool calls), by job kind",
    ["kind"],
)
RESULT_LAG = Histogram(
    "errand_result_lag_seconds",
    "From the provider's completed_at to the notifier posting the result (whole seconds "
    "at the provider, so up to 1 s coarse)",
    buckets=LAG_BUCKETS,
)
FOLLOW_SLACK = Histogram(
    "errand_follow_check_slack_seconds",
    "How long after its due time a follow check was made",
    buckets=SLACK_BUCKETS,
)
TICK_FAILURES = Counter(
    "errand_pulse_tick_failures_total",
    "Pulse ticks (launch, follow, notify, recover) that raised; the next tick takes up "
    "their work, so a rate that stays up means a dependency is down",
    ["pulse"],
)
NOTICES = Counter(
    "errand_notices_total", "Milestones handed to the notifier", ["milestone", "outcome"]
)
STREAMS = Counter(
    "errand_streams_total",
    "Response streams read (start, resume, held) by how they ended: finished, dropped "
    "(cut mid-way: resumed after the cursor), ended (closed early, the job is polled)",
    ["phase", "outcome"],
)
STREAMS_OPEN = Gauge(
    "errand_streams_open",
    "Response streams being read now (summed over live worker processes)",
    multiprocess_mode="livesum",
)
STREAMS_OPENED = Counter(
    "errand_streams_opened_total",
    "Response streams opened: start (from the first event) or resume (after the cursor)",
    ["phase"],
)
STREAM_FALLBACKS = Counter(
    "errand_stream_fallbacks_total",
    "Responses left to polling instead of a stream: refused (the provider no longer "
    "streams it), error (could not open, or kept dropping), ended (closed before the end)",
    ["reason"],
)
STREAM_EVENTS = Counter("errand_stream_events_total", "Stream events read from the provider")

# Milestones that hand the person their answer: their lag is what people wait.
RESULT_MILESTONES = frozenset({"completed", "needs_review"})


def provider_call(endpoint: str, outcome: str) -> None:
    """Count one provider call; `outcome` is ok, transient or permanent."""
    PROVIDER_CALLS.labels(endpoint, outcome).inc()


def cost_recorded(kind: str, usd: float) -> None:
    """Count the cost of a response that has just been recorded."""
    COST.labels(kind).inc(usd)


def follow_checked(lateness: list[float]) -> None:
    """Seconds each check of one follow tick ran after it was due."""
    for seconds in lateness:
        FOLLOW_SLACK.observe(max(seconds, 0.0))


def milestone_delivered(milestone: Milestone, *, ok: bool) -> None:
    """Count a delivery; for a result, observe the lag since the provider completed."""
    NOTICES.labels(milestone.name, "delivered" if ok else "later").inc()
    if not ok or milestone.name not in RESULT_MILESTONES:
        return
    completed_at = (milestone.job.output or {}).get("completed_at")
    if isinstance(completed_at, int | float) and completed_at > 0:
        RESULT_LAG.observe(max(time.time() - float(completed_at), 0.0))
