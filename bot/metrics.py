"""The bot's metrics: requests from Slack, and every call Errand makes to Slack's Web API
(the Slack notifier makes those calls inside worker processes too)."""

from __future__ import annotations

from prometheus_client import Counter

REQUESTS = Counter("errand_slack_requests_total", "Signed Slack requests handled", ["type"])
JOBS_STARTED = Counter("errand_slack_jobs_started_total", "Jobs started from Slack", ["kind"])
PRESSES = Counter("errand_button_presses_total", "Button presses", ["action", "outcome"])
FEEDBACK = Counter(
    "errand_feedback_total",
    "Presses of a result's feedback buttons, by job kind and value (positive, negative)",
    ["kind", "value"],
)
ERRORS = Counter("errand_bot_errors_total", "Errors reaching the Bolt error handler", ["code"])
WEBHOOKS = Counter(
    "errand_webhook_deliveries_total",
    "OpenAI webhook deliveries by outcome (accepted, duplicate, ignored, bad_signature)",
    ["outcome"],
)
SLACK_CALLS = Counter(
    "errand_slack_calls_total",
    "Slack Web API calls by method and outcome (ok, rate_limited, transient, or the error code)",
    ["method", "outcome"],
)
SLACK_RATE_LIMITED = Counter(
    "errand_slack_rate_limited_total",
    "HTTP 429 answers from Slack, including those the client waited out and retried",
    ["method"],
)


def slack_call(method: str, outcome: str) -> None:
    """Count one Slack Web API call as the caller saw it (after the client's own retries)."""
    SLACK_CALLS.labels(method, outcome).inc()
    if outcome == "rate_limited":
        SLACK_RATE_LIMITED.labels(method).inc()
