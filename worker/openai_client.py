"""The process's pooled OpenAI client, whose answers the launch pace reads.

OPENAI_BASE_URL is read by the SDK itself. The SDK's retries stay off where it is used
(`worker.provider`): no call is repeated in the same breath.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import openai
from openai import OpenAI

Answered = Callable[[httpx2.Response], None]  # sees each answer's status and headers


def make_openai_client(
    api_key: str, *, max_connections: int = 64, on_answer: Answered | None = None
) -> OpenAI:
    """One pooled client per process; `on_answer` sees every answer's status and headers
    (the provider's rate limits)."""
    limits = httpx2.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    hooks = {"response": [on_answer]} if on_answer else {}
    http = openai.DefaultHttpxClient(limits=limits, event_hooks=hooks)
    return OpenAI(api_key=api_key, http_client=http)
