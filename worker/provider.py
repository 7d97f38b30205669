"""The provider (OpenAI Responses API) as Errand uses it: create, retrieve, cancel.

The SDK's own retries are off: it retries POSTs without an idempotency key,
which could start a second paid response. We retry ourselves, with our key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from openai import OpenAI
from openai.types.responses import Response
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from models.kinds import Kind
from worker.metrics import provider_call

TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
STREAM_IDLE = 120.0  # no event for this long: the stream is closed; the follow pulse re-opens it

Observer = Callable[[str, bool], None]


class ProviderError(Exception):
    """A provider call that did not give us a response; `transient` decides what happens next."""

    def __init__(
        self,
        reason: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        self.status = status


def classify(exc: Exception) -> ProviderError:
    """Sort an SDK exception into transient (wait and try again) or permanent (fail the attempt)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | httpx2.TransportError):
        return ProviderError(f"provider unreachable: {type(exc).__name__}", transient=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = _error_message(exc)
        return ProviderError(
            f"provider answered {status}: {message}",
            transient=status in TRANSIENT_STATUS,
            retry_after=_retry_after(exc.response),
            status=status,
        )
    return ProviderError(f"provider call failed: {type(exc).__name__}", transient=True)


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return exc.message


def _retry_after(response: httpx2.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        return max(float(raw), 0.0) if raw is not None else None
    except ValueError:
        return None


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, Exception) and classify(exc).transient


def _wait(state: RetryCallState) -> float:
    """Honour Retry-After when the provider gives one, else exponential backoff with jitter."""
    exc = state.outcome.exception() if state.outcome else None
    hinted = classify(exc).retry_after if isinstance(exc, Exception) else None
    backoff = wait_exponential_jitter(initial=0.5, max=4.0)(state)
    return min(hinted, 10.0) if hinted is not None else backoff


@dataclass(frozen=True)
class CreateRequest:
    """Everything one create call needs; the key makes a repeat return the same response."""

    job_id: str
    attempt: int
    idempotency_key: str
    input_text: str
    kind: Kind


class Provider:
    """Thin, typed access to background responses with our retry rules."""

    def __init__(
        self,
        client: OpenAI,
        *,
        create_tries: int = 3,
        observers: Sequence[Observer] = (),
    ) -> None:
        self._create_client = client.with_options(max_retries=0, timeout=30.0)
        self._read_client = client.with_options(max_retries=0, timeout=20.0)
        self._stream_client = client.with_options(
            max_retries=0, timeout=httpx2.Timeout(STREAM_IDLE, connect=10.0)
        )
        self._create_tries = create_tries
        self._observers = list(observers)

    def _observe(self, endpoint: str, error: ProviderError | None) -> None:
        """Tell the breaker (and metrics) how a call went; a permanent error is an answer."""
        ok = error is None or not error.transient
        provider_call(endpoint, "ok" if error is None else ("permanent" if ok else "transient"))
        for observer in self._observers:
            observer(endpoint, ok)

    def create(self, request: CreateRequest) -> Response:
        """Start a background response; retried only with the same idempotency key."""
        call = retry(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(self._create_tries),
            wait=_wait,
            reraise=True,
        )(self._call)
        return call("create", lambda: self._create_once(request))

    def _create_once(self, request: CreateRequest) -> Response:
        kind = request.kind
        extra: dict[str, Any] = {}
        if kind.tools:
            extra["tools"] = kind.tools
        if kind.stream:  # streamable later (worker.stream); we keep only the first event here
            extra["stream"] = True
        made: Any = self._create_client.responses.create(
            model=kind.model,
            input=request.input_text,
            instructions=kind.instructions or openai.omit,
            background=True,
            store=True,
            metadata={"job_id": request.job_id, "attempt": str(request.attempt), "kind": kind.name},
            extra_headers={"Idempotency-Key": request.idempotency_key},
            **extra,
        )
        return _first_response(made)

    def retrieve(self, response_id: str) -> Response:
        """Read a response's current state; errors come back classified."""
        return self._call("retrieve", lambda: self._read_client.responses.retrieve(response_id))

    def events(self, response_id: str, *, after: int | None) -> Any:
        """The response's event stream after the cursor `after` (from the start if None);
        SDK errors are raised as they are, for the reader to count and fall back."""
        starting_after: Any = openai.omit if after is None else after
        return self._stream_client.responses.retrieve(
            response_id, stream=True, starting_after=starting_after
        )

    def cancel(self, response_id: str) -> Response:
        """Ask the provider to stop; idempotent there, and a finished one answers 400."""
        return self._call("cancel", lambda: self._create_client.responses.cancel(response_id))

    def _call(self, endpoint: str, call: Callable[[], Response]) -> Response:
        """Run one call, classify its failure, and tell the observers either way."""
        try:
            response = call()
        except Exception as exc:
            error = classify(exc)
            self._observe(endpoint, error)
            raise error from exc
        self._observe(endpoint, None)
        return response


def _first_response(made: object) -> Response:
    """A streamed create answers with events; the first (`response.created`) carries the
    response. Closing the connection leaves a background response running (worker.stream)."""
    if isinstance(made, Response):
        return made
    events: Any = made
    with events:
        for event in events:
            response = getattr(event, "response", None)
            if isinstance(response, Response):
                return response
    raise ProviderError("the stream ended before the response was created", transient=True)


def make_openai_client(api_key: str, *, max_connections: int = 64) -> OpenAI:
    """One pooled client per process; OPENAI_BASE_URL is read by the SDK itself."""
    limits = httpx2.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return OpenAI(api_key=api_key, http_client=openai.DefaultHttpxClient(limits=limits))
