"""The stand-in's settings: defaults for new responses, batches, limits and webhooks.

``/_sandbox/config`` replaces some of them at run time; every key is a field of
``SandboxOpenAISettings`` and is checked against the field's type, so a typo in a test fails
loudly instead of silently changing nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any, get_type_hints

DAY = 86_400.0


@dataclass(frozen=True)
class SandboxOpenAISettings:
    """Defaults for new responses, batches, rate limits and webhook delivery.

    The defaults are the real service's where it documents one (a 24 h batch window) and
    generous where a stricter value would only slow the tests down (10,000 requests a minute).
    """

    duration_min: float = 3.0
    duration_max: float = 10.0
    queue_seconds: float = 1.0
    webhook_url: str | None = None
    webhook_secret: str | None = None
    default_chars: int | None = None
    # OpenAI documents no idempotency for POST /v1/responses: by default a repeat is a new one.
    honour_idempotency_key: bool = False
    # When set, any other bearer key is refused with 401 invalid_api_key.
    api_key: str | None = None
    rpm_limit: int = 10_000
    tpm_limit: int = 30_000_000
    # Creates always count against the budget; with this on, every other call does too.
    rate_limit_reads: bool = False
    # How long after creation a background stream can still be resumed (starting_after).
    stream_resume_window: float = 300.0
    # Foreground (non-background) responses: seconds before the first text delta.
    first_token_seconds: float = 0.5
    # How long a stored response can be retrieved or named as previous_response_id.
    response_ttl: float = 30 * DAY
    batch_validate_seconds: float = 1.0
    batch_rows_per_second: float = 20.0
    batch_finalize_seconds: float = 1.0
    batch_cancel_seconds: float = 1.0
    batch_expire_seconds: float = DAY
    batch_row_failure_rate: float = 0.0
    request_log_limit: int = 20_000
    random_seed: int | None = None


_POSITIVE = frozenset({"rpm_limit", "tpm_limit", "batch_rows_per_second", "request_log_limit"})
_FRACTIONS = frozenset({"batch_row_failure_rate"})


def patched(settings: SandboxOpenAISettings, patch: dict[str, Any]) -> SandboxOpenAISettings:
    """``settings`` with ``patch`` applied; a bad key or value raises ``ValueError`` naming it."""
    return replace(settings, **{key: _coerce(key, value) for key, value in patch.items()})


@cache
def _kinds() -> dict[str, str]:
    """Field name -> the type's spelling, e.g. ``"float"`` or ``"int | None"``."""
    hints = get_type_hints(SandboxOpenAISettings)
    return {f.name: _spelling(hints[f.name]) for f in fields(SandboxOpenAISettings)}


def _spelling(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint)


def _coerce(key: str, value: Any) -> Any:
    """Check one value against its field's type (and range), converting where unambiguous."""
    kind = _kinds().get(key)
    if kind is None:
        raise ValueError(f"unknown setting {key!r}")
    if value is None and "None" in kind:
        return None
    try:
        converted = _convert(kind.split(" |")[0], value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid value for {key!r}: {value!r}") from None
    if not _in_range(key, converted):
        raise ValueError(f"invalid value for {key!r}: {value!r}")
    return converted


def _convert(kind: str, value: Any) -> Any:
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise ValueError(value)
    if kind == "int":
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError(value)
        return int(float(value))
    if kind == "float":
        if isinstance(value, bool) or not math.isfinite(float(value)):
            raise ValueError(value)
        return float(value)
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _in_range(key: str, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True
    if key in _POSITIVE:
        return value > 0
    if key in _FRACTIONS:
        return 0 <= value <= 1
    return value >= 0 or key == "random_seed"
