"""The provider (OpenAI Responses API) as Errand uses it: create, retrieve, cancel.

No call is retried here: the SDK's retries are off, and a create is never repeated in the
same breath. OpenAI documents no Idempotency-Key for `POST /v1/responses` (we send one
anyway, for the provider's logs), so a create whose answer never came may have made a
response; what happens next is the launch's decision (`models.store.claim`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import httpx2
import openai
from openai import AsyncOpenAI, OpenAI
from openai.types.responses import Response

from models.kinds import Kind
from worker.batch_api import BatchApi
from worker.metrics import provider_call

STREAM_IDLE = 120.0  # no event for this long: the stream is closed; the follow pulse re-opens it
# A held stream (zero data retention) cannot be re-opened, so it waits longer for a quiet
# model (a deep research between searches) before calling the connection lost.
HELD_IDLE = 300.0
CREATE_TIMEOUT = 30.0  # keep ERRAND_START_LEASE above it: the lease must outlast the call
# The request never left: connecting failed, or no pooled connection was free.
UNSENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)

Observer = Callable[[str, bool], None]
T = TypeVar("T")
# The calls that make something at the provider (a response, a batch): a 404 there is our
# configuration, and no answer means something may have been made.
CREATES = frozenset({"create", "batches.create"})
NO_CAPACITY = "resource_unavailable"  # a flex request the provider has no capacity for now


class ErrorClass(StrEnum):
    """What a provider error means for what we do next."""

    TRANSIENT = "transient"  # nothing was made (429, a refused connection): wait, try again
    UNKNOWN = "unknown"  # sent, but no answer (timeout, 5xx, reset): a create may have made one
    CONFIG = "config"  # our key, project, model or quota: nothing works until someone fixes it
    REFUSED = "refused"  # this request itself (a 400; a 404 for a read)


class ProviderError(Exception):
    """A provider call that did not give us a response. `reason` holds the provider's own
    words, for logs and the job's record, never for a channel."""

    def __init__(
        self,
        reason: str,
        *,
        cls: ErrorClass,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cls = cls
        self.retry_after = retry_after
        self.status = status
        self.code = code

    @property
    def transient(self) -> bool:
        """Worth the same call again later (for a create, within the attempt's limits)."""
        return self.cls in (ErrorClass.TRANSIENT, ErrorClass.UNKNOWN)

    @property
    def no_capacity(self) -> bool:
        """The provider has no spare capacity for this tier (flex) now: nothing was made,
        and the request is waited out rather than counted as a failure."""
        return self.status == 429 and self.code == NO_CAPACITY


def classify(exc: Exception, endpoint: str = "create") -> ProviderError:
    """Sort an SDK exception by what it means for the call at `endpoint`."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        return _by_status(exc, endpoint)
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        cause = exc if isinstance(exc, httpx2.TransportError) else exc.__cause__
        sent = not isinstance(cause, UNSENT)
        reason = f"provider unreachable: {type(exc).__name__} ({type(cause).__name__})"
        return ProviderError(reason, cls=ErrorClass.UNKNOWN if sent else ErrorClass.TRANSIENT)
    return ProviderError(f"provider call failed: {type(exc).__name__}", cls=ErrorClass.UNKNOWN)


def _by_status(exc: openai.APIStatusError, endpoint: str) -> ProviderError:
    status, code = exc.status_code, _error_code(exc)
    if (
        status in (401, 403)
        or code == "insufficient_quota"
        or (status == 404 and endpoint in CREATES)
    ):
        cls = ErrorClass.CONFIG
    elif status in (408, 409, 429):
        cls = ErrorClass.TRANSIENT
    elif status >= 500:
        cls = ErrorClass.UNKNOWN if endpoint in CREATES else ErrorClass.TRANSIENT
    else:
        cls = ErrorClass.REFUSED
    return ProviderError(
        f"provider answered {status}: {_error_message(exc)}",
        cls=cls,
        retry_after=_retry_after(exc.response),
        status=status,
        code=code,
    )


def _error_body(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.body
    inner = body.get("error", body) if isinstance(body, dict) else None
    return inner if isinstance(inner, dict) else {}


def _error_code(exc: openai.APIStatusError) -> str | None:
    code = _error_body(exc).get("code")
    return code if isinstance(code, str) else None


def _error_message(exc: openai.APIStatusError) -> str:
    message = _error_body(exc).get("message")
    return str(message) if message else exc.message


def _retry_after(response: httpx2.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        return max(float(raw), 0.0) if raw is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class CreateRequest:
    """Everything one create call needs; the metadata names the job and the attempt, so
    any response the call made can be traced back to them (a webhook, the provider's logs)."""

    job_id: str
    attempt: int
    idempotency_key: str
    input_text: str
    kind: Kind
    model: str
    previous_response_id: str | None = None  # a follow-up: the turn it continues
    effort: str | None = None  # reasoning effort; None: the model's default
    service_tier: str | None = None  # None: the project's default


class Provider:
    """Thin, typed access to background responses; errors come back classified."""

    def __init__(self, client: OpenAI, *, observers: Sequence[Observer] = ()) -> None:
        self._create_client = client.with_options(max_retries=0, timeout=CREATE_TIMEOUT)
        self._read_client = client.with_options(max_retries=0, timeout=20.0)
        self._stream_client = client.with_options(
            max_retries=0, timeout=httpx2.Timeout(STREAM_IDLE, connect=10.0)
        )
        self._held_client = client.with_options(
            max_retries=0, timeout=httpx2.Timeout(HELD_IDLE, connect=10.0)
        )
        self._observers = list(observers)
        self.batches = BatchApi(self._create_client, self._read_client, self._call)

    def _observe(self, endpoint: str, error: ProviderError | None) -> None:
        """Tell the breaker (and metrics) how a call went. A refusal is an answer; a
        configuration error says nothing about the provider's health (the launch holds
        for it on its own), nor does flex capacity running out: it would otherwise hold
        every kind's launches while only flex ones have to wait."""
        provider_call(endpoint, "ok" if error is None else error.cls.value)
        if error is not None and (error.cls == ErrorClass.CONFIG or error.no_capacity):
            return
        ok = error is None or error.cls == ErrorClass.REFUSED
        for observer in self._observers:
            observer(endpoint, ok)

    def create(self, request: CreateRequest) -> Response:
        """Start a background response, once; its ID comes in the stream's first event."""
        return self._call("create", lambda: self._create_once(request))

    def _create_once(self, request: CreateRequest) -> Response:
        # stream=True: the ID arrives with `response.created`, before the answer would;
        # closing the stream leaves a background response running (worker.stream reads
        # streaming kinds' events later).
        made: Any = self._create_client.responses.create(
            background=True, store=True, **_create_body(request)
        )
        return _first_response(made)

    def open_held(self, request: CreateRequest) -> Held:
        """Start a response that lives only as long as this stream (zero data retention):
        `store=false`, no `background`. Its first event names it; the caller reads the rest,
        and closing the stream ends the response."""
        return self._call("create", lambda: self._open_held_once(request))

    def _open_held_once(self, request: CreateRequest) -> Held:
        made: Any = self._held_client.responses.create(store=False, **_create_body(request))
        try:
            return Held(_first_event_response(made), made)
        except BaseException:
            made.close()
            raise

    def retrieve(self, response_id: str) -> Response:
        """Read a response's current state; errors come back classified."""
        return self._call("retrieve", lambda: self._read_client.responses.retrieve(response_id))

    def stream_client(self, connections: int) -> AsyncOpenAI:
        """An asyncio client for the stream reader (`worker.stream_reader`), configured as
        this one is (key, base URL, organization, project), reading with the streams' idle
        limit, with a pool of `connections`. Make it on the event loop that will use it."""
        sync = self._stream_client
        limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
        return AsyncOpenAI(
            api_key=sync.api_key,
            organization=sync.organization,
            project=sync.project,
            base_url=sync.base_url,
            max_retries=0,
            timeout=httpx2.Timeout(STREAM_IDLE, connect=10.0),
            http_client=openai.DefaultAsyncHttpxClient(limits=limits),
        )

    def cancel(self, response_id: str) -> Response:
        """Ask the provider to stop; idempotent there, and a finished one answers 400."""
        return self._call("cancel", lambda: self._create_client.responses.cancel(response_id))

    def _call(self, endpoint: str, call: Callable[[], T]) -> T:
        """Run one call, classify its failure, and tell the observers either way."""
        try:
            response = call()
        except Exception as exc:
            error = classify(exc, endpoint)
            self._observe(endpoint, error)
            raise error from exc
        self._observe(endpoint, None)
        return response


@dataclass(frozen=True)
class Held:
    """A held stream's response as first announced, and its events still to read (close
    them to end the response)."""

    response: Response
    events: Any


def _create_body(request: CreateRequest) -> dict[str, Any]:
    """What every create sends, whichever way it keeps the response."""
    kind = request.kind
    extra: dict[str, Any] = {"tools": kind.tools} if kind.tools else {}
    return {
        "model": request.model,
        "input": request.input_text,
        "previous_response_id": request.previous_response_id or openai.omit,
        "instructions": kind.instructions or openai.omit,
        "stream": True,
        "max_output_tokens": kind.max_output_tokens,
        "service_tier": request.service_tier or openai.omit,
        "reasoning": {"effort": request.effort} if request.effort else openai.omit,
        "metadata": {"job_id": request.job_id, "attempt": str(request.attempt), "kind": kind.name},
        "extra_headers": {"Idempotency-Key": request.idempotency_key},
        **extra,
    }


def _first_event_response(events: Any) -> Response:
    """The response the first event (`response.created`) carries; the rest stays open."""
    for event in events:
        response = getattr(event, "response", None)
        if isinstance(response, Response):
            return response
    raise ProviderError("the create's stream ended before the response", cls=ErrorClass.UNKNOWN)


def _first_response(made: object) -> Response:
    """A streamed create's response (its first event); closing leaves a background one running."""
    if isinstance(made, Response):
        return made
    events: Any = made
    with events:
        return _first_event_response(events)
