"""OpenAI's error answers, by class, with the bodies and headers the real API sends.

Bodies are ``{"error": {"message", "type", "param", "code"}}`` (schema ``ErrorResponse``),
which the SDK maps to typed exceptions by status (400 ``BadRequestError`` ... 5xx
``InternalServerError``). The wording follows what the real API has been seen to answer, so a
client that matches on messages or codes meets the same strings here.

Two gateway classes are deliberately not schema-conformant because the real ones are not:
Cloudflare's 502/504 put the HTTP status in ``code`` as an integer (``cf_bad_gateway``), or
answer an HTML page (``html=True``). A client must survive both.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

KEYS_URL = "https://platform.openai.com/account/api-keys"
LIMITS_URL = "https://platform.openai.com/account/rate-limits"
ORGANIZATION = "org-sandbox"


@dataclass(frozen=True)
class ApiError:
    """One error answer: HTTP status, the ``error`` object, extra headers, or an HTML page."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    html: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body, exactly as the API spells it."""
        error = {"message": self.message, "type": self.type, "param": self.param}
        return {"error": {**error, "code": self.code}}


def request_id() -> str:
    """An ``x-request-id`` value, also quoted in 500 messages and batch output rows."""
    return "req_" + secrets.token_hex(16)


@dataclass(frozen=True)
class ErrorContext:
    """What an error's wording depends on: the caller's key, the model, the request id."""

    api_key: str = ""
    model: str = "the requested model"
    retry_after: float | None = None
    request_id: str = field(default_factory=request_id)


def masked_key(key: str) -> str:
    """The key as the API quotes it back: a head, asterisks, and the last four characters."""
    head = key[:8] if len(key) > 16 else key[:3]
    return head + "*" * max(4, len(key) - len(head) - 4) + key[-4:]


def missing_key() -> ApiError:
    """No ``Authorization: Bearer`` header at all."""
    return ApiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization"
        " header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password"
        " field (with blank username) if you're accessing the API from your browser and are"
        f" prompted for a username and password. You can obtain an API key from {KEYS_URL}.",
    )


def invalid_key(key: str) -> ApiError:
    """A key the API does not know; the message quotes it masked."""
    return ApiError(
        401,
        f"Incorrect API key provided: {masked_key(key)}. You can find your API key at {KEYS_URL}.",
        code="invalid_api_key",
    )


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    """A 400 about the request itself."""
    return ApiError(400, message, param=param, code=code)


def not_found(message: str, param: str | None = None) -> ApiError:
    """A 404 for an object that does not exist (or no longer does)."""
    return ApiError(404, message, param=param)


def requests_limited(ctx: ErrorContext, limit: int, wait: str) -> ApiError:
    """429 from the requests-per-minute budget."""
    message = (
        f"Rate limit reached for {ctx.model} in organization {ORGANIZATION} on requests per min"
        f" (RPM): Limit {limit}, Used {limit}, Requested 1. Please try again in {wait}."
        f" Visit {LIMITS_URL} to learn more."
    )
    return ApiError(429, message, type="requests", code="rate_limit_exceeded")


def tokens_limited(ctx: ErrorContext, limit: int, used: int, wanted: int, wait: str) -> ApiError:
    """429 from the tokens-per-minute budget."""
    message = (
        f"Rate limit reached for {ctx.model} in organization {ORGANIZATION} on tokens per min"
        f" (TPM): Limit {limit}, Used {used}, Requested {wanted}. Please try again in {wait}."
        f" Visit {LIMITS_URL} to learn more."
    )
    return ApiError(429, message, type="tokens", code="rate_limit_exceeded")


def _invalid_key(ctx: ErrorContext) -> ApiError:
    return invalid_key(ctx.api_key or "sk-unknown")


def _bad_request(ctx: ErrorContext) -> ApiError:
    return invalid_request(
        "Unsupported parameter: 'temperature' is not supported with this model.",
        param="temperature",
        code="unsupported_parameter",
    )


def _permission(ctx: ErrorContext) -> ApiError:
    return ApiError(
        403,
        "You have insufficient permissions for this operation. Missing scopes:"
        " api.responses.write. Check that you have the correct role in your organization"
        " (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted"
        " API key, that it has the necessary scopes.",
    )


def _project_model(ctx: ErrorContext) -> ApiError:
    message = f"Project `proj_sandbox` does not have access to model `{ctx.model}`"
    return ApiError(403, message, code="model_not_found")


def _model_not_found(ctx: ErrorContext) -> ApiError:
    message = f"The model `{ctx.model}` does not exist or you do not have access to it."
    return ApiError(404, message, code="model_not_found")


def _rate_limit(ctx: ErrorContext) -> ApiError:
    wait = f"{ctx.retry_after:g}s" if ctx.retry_after is not None else "20s"
    return requests_limited(ctx, 500, wait)


def _quota(ctx: ErrorContext) -> ApiError:
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more"
        " information on this error, read the docs:"
        " https://platform.openai.com/docs/guides/error-codes/api-errors."
    )
    return ApiError(429, message, type="insufficient_quota", code="insufficient_quota")


def _flex(ctx: ErrorContext) -> ApiError:
    message = (
        "Resource Unavailable: there is not enough capacity to serve this flex request right"
        " now. Retry later, or retry with service_tier 'auto' for standard processing."
    )
    return ApiError(429, message, code="resource_unavailable")


def _server(ctx: ErrorContext) -> ApiError:
    message = (
        "The server had an error processing your request. Sorry about that! You can retry your"
        " request, or contact us through our help center at help.openai.com if you keep seeing"
        f" this error. (Please include the request ID {ctx.request_id} in your email.)"
    )
    return ApiError(500, message, type="server_error")


def _bad_gateway(ctx: ErrorContext) -> ApiError:
    return ApiError(502, "Bad gateway.", type="cf_bad_gateway", code=502)


def _overloaded(ctx: ErrorContext) -> ApiError:
    message = "The server is overloaded or not ready yet."
    return ApiError(503, message, type="server_error")


def _gateway_timeout(ctx: ErrorContext) -> ApiError:
    return ApiError(504, "Gateway timeout.", type="cf_gateway_timeout", code=504)


CLASSES = {
    "invalid_request": _bad_request,
    "invalid_api_key": _invalid_key,
    "permission": _permission,
    "project_model_access": _project_model,
    "model_not_found": _model_not_found,
    "rate_limit": _rate_limit,
    "insufficient_quota": _quota,
    "resource_unavailable": _flex,
    "server_error": _server,
    "bad_gateway": _bad_gateway,
    "overloaded": _overloaded,
    "gateway_timeout": _gateway_timeout,
}
DEFAULT_CLASS = {
    400: "invalid_request",
    401: "invalid_api_key",
    403: "permission",
    404: "model_not_found",
    429: "rate_limit",
    500: "server_error",
    502: "bad_gateway",
    503: "overloaded",
    504: "gateway_timeout",
}


def status_of(error_class: str) -> int:
    """The HTTP status a class answers with."""
    return CLASSES[error_class](ErrorContext()).status


def injected(status: int, error_class: str | None, ctx: ErrorContext, html: bool) -> ApiError:
    """The answer for an injected fault: its class's body under the fault's status."""
    name = error_class or DEFAULT_CLASS.get(status)
    if name is None:
        base = ApiError(status, "Injected sandbox fault.", type="server_error")
    else:
        base = CLASSES[name](ctx)
    headers = dict(base.headers)
    if ctx.retry_after is not None:
        headers["retry-after"] = f"{ctx.retry_after:g}"
    page = cloudflare_page(status) if html else None
    return ApiError(status, base.message, base.type, base.param, base.code, headers, page)


def cloudflare_page(status: int) -> str:
    """The HTML a Cloudflare edge answers when the origin fails (no JSON at all)."""
    title = {502: "Bad gateway", 504: "Gateway time-out"}.get(status, "Error")
    return (
        f'<!DOCTYPE html><html lang="en-US"><head><title>api.openai.com | {status}: {title}'
        f'</title></head><body><div id="cf-error-details"><h1><span>{title}</span>'
        f' <span class="code-label">Error code {status}</span></h1><p>The web server reported'
        f" a {title.lower()} error.</p><p>Cloudflare Ray ID: {secrets.token_hex(8)}</p></div>"
        "</body></html>"
    )
