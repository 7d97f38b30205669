"""The one way Errand talks to the Slack Web API: a client and a call helper.

What fails is either transient (429, 5xx, network) and becomes `NotifyLater`, so the
caller's work is redone later, or permanent (`not_in_channel`, `channel_not_found`,
...) and is raised as the `SlackApiError` for the caller to branch on; those are never
retried. With a `Budget`, a call first takes a token from Slack's shared rate budget and
is not made at all while the budget says wait; a 429 pauses the method for every worker.

Listeners use a patient client whose retry handlers absorb one short rate limit and a
dropped connection. The notifier's client retries nothing by itself: a post retried
blindly after a timeout could appear twice, so its retries are the notice outbox's,
which checks the thread first when an earlier try's outcome is unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import SlackResponse

from bot.budget import Budget
from bot.metrics import SLACK_RATE_LIMITED, slack_call
from models.notifier import NotifyLater

DEFAULT_RETRY_AFTER = 5.0


def make_client(token: str, base_url: str, *, patient: bool = True) -> WebClient:
    """A WebClient; a patient one waits out one rate limit and retries a dropped
    connection (for listeners), an impatient one leaves retries to its caller."""
    if not base_url.endswith("/"):
        base_url += "/"
    handlers = (
        [CountedRateLimitHandler(max_retry_count=1), ConnectionErrorRetryHandler(max_retry_count=2)]
        if patient
        else []
    )
    return WebClient(token=token, base_url=base_url, timeout=15, retry_handlers=handlers)


class CountedRateLimitHandler(RateLimitErrorRetryHandler):
    """The SDK's rate-limit handler, counting each 429 it waits out (metrics only)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        retry = super()._can_retry(state=state, request=request, response=response, error=error)
        if retry:
            SLACK_RATE_LIMITED.labels(request.url.rsplit("/", 1)[-1]).inc()
        return retry


def method_name(method: Callable[..., SlackResponse]) -> str:
    """`chat_postMessage` -> `chat.postMessage`, as Slack names its methods."""
    return getattr(method, "__name__", "unknown").replace("_", ".")


def call(
    method: Callable[..., SlackResponse],
    /,
    *,
    budget: Budget | None = None,
    keep: int = 0,
    before: Callable[[], None] | None = None,
    **kwargs: Any,
) -> SlackResponse:
    """Make one Web API call; transient failures become `NotifyLater`, permanent ones raise.
    With a budget, `keep` leaves tokens for more urgent calls (see `Budget.wait`).
    `before` runs once the call is sure to be made (a post records that it goes out)."""
    name = method_name(method)
    channel = kwargs.get("channel")
    if budget is not None:
        wait = budget.wait(name, channel, keep=keep)
        if wait > 0:
            raise NotifyLater(f"waiting for Slack's budget for {name}", wait, tried=False)
    if before is not None:
        before()
    try:
        answer = method(**kwargs)
    except SlackApiError as exc:
        later = _transient(exc)
        slack_call(name, _outcome(exc, later))
        if later is None:
            raise
        if budget is not None and exc.response.status_code == 429:
            budget.pause(name, later.retry_after, channel)
        raise later from exc
    except OSError as exc:  # URLError, timeouts, refused connections
        slack_call(name, "transient")
        refused = isinstance(getattr(exc, "reason", exc), ConnectionRefusedError)
        raise NotifyLater(
            f"Slack unreachable: {exc}", DEFAULT_RETRY_AFTER, uncertain=not refused
        ) from exc
    slack_call(name, "ok")
    return answer


def _outcome(exc: SlackApiError, later: NotifyLater | None) -> str:
    if exc.response.status_code == 429:
        return "rate_limited"
    return "transient" if later is not None else error_code(exc) or "error"


def error_code(exc: SlackApiError) -> str:
    """The Web API's `error` field (e.g. `not_in_channel`)."""
    return str(exc.response.get("error") or "")


def _transient(exc: SlackApiError) -> NotifyLater | None:
    status = exc.response.status_code
    if status == 429:  # Slack's "not yet": waited out, never counted as a failed try
        wait = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
        return NotifyLater("Slack rate limit", float(wait or DEFAULT_RETRY_AFTER), tried=False)
    if status >= 500:
        return NotifyLater(f"Slack answered {status}", DEFAULT_RETRY_AFTER)
    return None
