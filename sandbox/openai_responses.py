"""Response records and their lazy state machine.

A record never changes after creation except for what the client's calls reveal (cancel,
and the bookkeeping counters): its status at any moment is a pure function of wall-clock time
(``queued`` for ``queue_s``, ``in_progress`` until ``duration_s``, then the scenario's
outcome). That keeps a retrieve O(1) with no per-response timers, and makes stream events
deterministic so ``starting_after`` can replay them. The JSON shapes live in
``sandbox.openai_render``.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from sandbox.openai_content import ResearchText, research_answer
from sandbox.openai_scenario import Scenario, input_text, parse_directives, strip_directives
from sandbox.openai_settings import SandboxOpenAISettings

__all__ = [
    "JSON",
    "TERMINAL",
    "ResponseRecord",
    "SandboxOpenAISettings",
    "derived_id",
    "fraction_from_id",
    "new_record",
]

JSON = dict[str, Any]
TERMINAL = frozenset({"completed", "failed", "incomplete", "cancelled"})
WEB_SEARCH_TOOLS = frozenset(
    {"web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11"}
)
_ECHOED_KEYS = frozenset(
    {
        *("instructions", "max_output_tokens", "max_tool_calls", "metadata", "reasoning"),
        *("parallel_tool_calls", "previous_response_id", "prompt_cache_key", "text", "user"),
        *("safety_identifier", "temperature", "tool_choice", "tools", "top_logprobs", "top_p"),
        "truncation",
    }
)
# The tier the API reports having used for the tier asked for (auto -> the project default).
_TIER_USED = {"auto": "default", "fast": "priority", "scale": "default"}
_REASONING_PER_VISIBLE = 2  # reasoning tokens per visible output token
_THINKING_SHARE = 0.2  # share of a background run spent reasoning before the first token


@dataclass(slots=True)
class ResponseRecord:
    """Everything needed to render one response at any time, plus what the client saw of it.

    ``heard`` is False when the create's answer never reached the client (an injected
    "made, but answered with an error" fault); ``seen`` counts retrieve answers delivered.
    """

    id: str
    created_at: float
    queue_s: float
    duration_s: float
    first_token_s: float
    scenario: Scenario
    model: str
    echoed: JSON
    input: Any
    background: bool
    store: bool
    streamed: bool
    answer: ResearchText
    input_tokens: int
    reasoning_tokens: int
    web_searches: int
    expires_at: float
    cancelled_at: float | None = None
    # Set with cancelled_at: a paced stream sleeps on it until its next event is due.
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    webhook_sent: bool = False
    heard: bool = True
    seen: int = 0
    calls: dict[str, int] = field(default_factory=lambda: {"create": 1, "retrieve": 0, "cancel": 0})

    @property
    def terminal_at(self) -> float:
        """Epoch when the scenario outcome takes effect (ignoring cancellation)."""
        return self.created_at + self.duration_s

    @property
    def output_tokens(self) -> int:
        """Visible plus reasoning tokens, at four characters a token."""
        return math.ceil(len(self.answer.text) / 4) + self.reasoning_tokens

    def status_at(self, now: float) -> str:
        """The lazy state machine: a few float comparisons, no locks or timers."""
        if self.cancelled_at is not None:
            return "cancelled"
        elapsed = now - self.created_at
        if elapsed < self.queue_s:
            return "queued"
        if elapsed < self.duration_s:
            return "in_progress"
        return self.scenario.outcome

    def finished_at(self, now: float) -> float | None:
        """When the response reached its terminal status, or ``None`` while it runs."""
        if self.cancelled_at is not None:
            return self.cancelled_at
        return self.terminal_at if now >= self.terminal_at else None

    @property
    def job_id(self) -> str | None:
        """``metadata.job_id``, by which the stats group responses."""
        metadata = self.echoed.get("metadata") or {}
        found = metadata.get("job_id")
        return found if isinstance(found, str) else None


def fraction_from_id(response_id: str) -> float:
    """A stable value in [0, 1) so per-response durations are reproducible."""
    digest = hashlib.sha256(response_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def derived_id(prefix: str, response_id: str) -> str:
    """Item ids derived from the response id, so replays and retrieves agree."""
    return prefix + hashlib.sha256((prefix + response_id).encode()).hexdigest()[:48]


def tier_used(asked: object) -> str:
    """The ``service_tier`` a response reports for the one requested."""
    tier = asked if isinstance(asked, str) else "auto"
    return _TIER_USED.get(tier, tier)


def new_record(
    response_id: str, body: JSON, settings: SandboxOpenAISettings, now: float
) -> ResponseRecord:
    """Turn a create request into a record: scenario, timings and the full answer up front."""
    text = input_text(body.get("input"))
    scenario = parse_directives(text)
    variant = response_id if scenario.vary else ""
    answer = research_answer(
        strip_directives(text), scenario.chars or settings.default_chars, variant
    )
    if scenario.outcome == "incomplete":
        answer = answer.truncated(len(answer.text) * 3 // 5)
    background = bool(body.get("background"))
    queue, duration = _timings(response_id, scenario, settings, background)
    reasoning = math.ceil(len(answer.text) / 4) * _REASONING_PER_VISIBLE
    record = ResponseRecord(
        id=response_id,
        created_at=now,
        queue_s=queue,
        duration_s=duration,
        first_token_s=_first_token(queue, duration, settings, background),
        scenario=scenario,
        model=str(body.get("model")),
        echoed=_echoed(body),
        input=body.get("input"),
        background=background,
        store=body.get("store") is not False,
        streamed=bool(body.get("stream")),
        answer=answer,
        input_tokens=_input_tokens(text, body),
        reasoning_tokens=reasoning,
        web_searches=_web_searches(response_id, body.get("tools")),
        expires_at=now + settings.response_ttl,
    )
    return _capped(record, body.get("max_output_tokens"))


def _timings(
    response_id: str, scenario: Scenario, settings: SandboxOpenAISettings, background: bool
) -> tuple[float, float]:
    """Queue and total duration; foreground requests are never queued."""
    span = max(0.0, settings.duration_max - settings.duration_min)
    duration = scenario.resolved_duration(
        settings.duration_min + span * fraction_from_id(response_id)
    )
    queue = settings.queue_seconds if scenario.queue is None else scenario.queue
    return (min(queue, duration) if background else 0.0), duration


def _first_token(
    queue: float, duration: float, settings: SandboxOpenAISettings, background: bool
) -> float:
    if background:
        return queue + (duration - queue) * _THINKING_SHARE
    return min(settings.first_token_seconds, duration)


def _echoed(body: JSON) -> JSON:
    echoed = {k: v for k, v in body.items() if k in _ECHOED_KEYS and v is not None}
    echoed["service_tier"] = tier_used(body.get("service_tier"))
    return echoed


def _input_tokens(text: str, body: JSON) -> int:
    prompt_chars = len(text) + len(input_text(body.get("instructions")))
    return max(1, math.ceil(prompt_chars / 4))


def estimated_tokens(body: JSON) -> int:
    """What a create asks of the tokens budget: its prompt plus its output allowance."""
    allowance = body.get("max_output_tokens")
    extra = allowance if isinstance(allowance, int) and not isinstance(allowance, bool) else 0
    return _input_tokens(input_text(body.get("input")), body) + extra


def _web_searches(response_id: str, tools: Any) -> int:
    """One to four searches when a web search tool is offered, fixed by the response id."""
    if not isinstance(tools, list):
        return 0
    if not any(isinstance(t, dict) and t.get("type") in WEB_SEARCH_TOOLS for t in tools):
        return 0
    return 1 + int(fraction_from_id("ws:" + response_id) * 4)


def _capped(record: ResponseRecord, limit: Any) -> ResponseRecord:
    """Stop at ``max_output_tokens``: reasoning first, then as much text as is left.

    The response ends ``incomplete`` (reason ``max_output_tokens``) as soon as the cap is
    hit, so it also finishes early; a cap that reasoning alone uses up leaves no text at all.
    """
    wanted = record.output_tokens
    if not isinstance(limit, int) or wanted <= limit or record.scenario.outcome != "completed":
        return record
    reasoning = min(record.reasoning_tokens, limit)
    record.answer = record.answer.truncated((limit - reasoning) * 4)
    record.reasoning_tokens = reasoning
    record.scenario = replace(
        record.scenario, outcome="incomplete", incomplete_reason="max_output_tokens"
    )
    running = record.duration_s - record.queue_s
    record.duration_s = record.queue_s + running * limit / wanted
    record.first_token_s = min(record.first_token_s, record.duration_s)
    return record
