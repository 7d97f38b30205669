"""Response records, their lazy state machine, and their JSON shapes.

A record never changes after creation except for ``cancelled_at``: its status at any moment is a
pure function of wall-clock time (``queued`` for ``queue_s``, ``in_progress`` until
``duration_s``, then the scenario's outcome). That keeps a retrieve O(1) with no per-response
timers, and makes stream events deterministic so ``starting_after`` can replay them.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from sandbox.openai_content import ResearchText, research_answer
from sandbox.openai_scenario import Scenario, input_text, parse_directives, strip_directives

JSON = dict[str, Any]
TERMINAL = frozenset({"completed", "failed", "incomplete", "cancelled"})

# Request fields echoed back verbatim, with the value the API reports when they are absent.
ECHOED_DEFAULTS: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "prompt_cache_key": None,
    "safety_identifier": None,
    "service_tier": "default",
    "temperature": 1.0,
    "tool_choice": "auto",
    "tools": [],
    "top_logprobs": 0,
    "top_p": 1.0,
    "truncation": "disabled",
}
_ECHOED_KEYS = frozenset({*ECHOED_DEFAULTS, "reasoning", "text", "user"})
_DEFAULT_TEXT: JSON = {"format": {"type": "text"}, "verbosity": "medium"}
_DEFAULT_REASONING: JSON = {"effort": None, "summary": None}
_FAIL_MESSAGE = "The model failed to generate a response. Please try again."


@dataclass(frozen=True)
class SandboxOpenAISettings:
    """Defaults for new responses and webhook delivery; ``/_sandbox/config`` replaces them."""

    duration_min: float = 3.0
    duration_max: float = 10.0
    queue_seconds: float = 1.0
    webhook_url: str | None = None
    webhook_secret: str | None = None
    default_chars: int | None = None


@dataclass(slots=True)
class ResponseRecord:
    """Everything needed to render one response at any time; mutable only by cancel."""

    id: str
    created_at: float
    queue_s: float
    duration_s: float
    scenario: Scenario
    model: str
    echoed: JSON
    input: Any
    background: bool
    store: bool
    answer: ResearchText
    input_tokens: int
    cancelled_at: float | None = None
    webhook_sent: bool = False
    calls: dict[str, int] = field(default_factory=lambda: {"create": 1, "retrieve": 0, "cancel": 0})

    @property
    def terminal_at(self) -> float:
        """Epoch when the scenario outcome takes effect (ignoring cancellation)."""
        return self.created_at + self.duration_s

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


def fraction_from_id(response_id: str) -> float:
    """A stable value in [0, 1) so per-response durations are reproducible."""
    digest = hashlib.sha256(response_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def derived_id(prefix: str, response_id: str) -> str:
    """Item ids derived from the response id, so replays and retrieves agree."""
    return prefix + hashlib.sha256((prefix + response_id).encode()).hexdigest()[:48]


def new_record(
    response_id: str, body: JSON, settings: SandboxOpenAISettings, now: float
) -> ResponseRecord:
    """Turn a create request into a record: scenario, timings and the full answer up front."""
    text = input_text(body.get("input"))
    scenario = parse_directives(text)
    span = max(0.0, settings.duration_max - settings.duration_min)
    duration = scenario.resolved_duration(
        settings.duration_min + span * fraction_from_id(response_id)
    )
    queue = settings.queue_seconds if scenario.queue is None else scenario.queue
    answer = research_answer(strip_directives(text), scenario.chars or settings.default_chars)
    if scenario.outcome == "incomplete":
        answer = answer.truncated(len(answer.text) * 3 // 5)
    prompt_chars = len(text) + len(input_text(body.get("instructions")))
    return ResponseRecord(
        id=response_id,
        created_at=now,
        queue_s=min(queue, duration),
        duration_s=duration,
        scenario=scenario,
        model=str(body.get("model")),
        echoed={k: v for k, v in body.items() if k in _ECHOED_KEYS and v is not None},
        input=body.get("input"),
        background=bool(body.get("background")),
        store=body.get("store") is not False,
        answer=answer,
        input_tokens=max(1, math.ceil(prompt_chars / 4)),
    )


def render(record: ResponseRecord, status: str) -> JSON:
    """The ``Response`` object as the API would return it in ``status``."""
    body: JSON = {
        "id": record.id,
        "object": "response",
        "created_at": int(record.created_at),
        "status": status,
        "background": record.background,
        "completed_at": int(record.terminal_at) if status == "completed" else None,
        "error": _error(record) if status == "failed" else None,
        "incomplete_details": _incomplete(record) if status == "incomplete" else None,
        "model": record.model,
        "output": output_items(record, status),
        "reasoning": record.echoed.get("reasoning") or dict(_DEFAULT_REASONING),
        "store": record.store,
        "text": record.echoed.get("text") or dict(_DEFAULT_TEXT),
    }
    if status in ("completed", "incomplete"):
        body["usage"] = usage(record)  # the schema has no null usage: omit it until known
    for key, default in ECHOED_DEFAULTS.items():
        value = record.echoed.get(key)
        body[key] = default if value is None else value
    if "user" in record.echoed:
        body["user"] = record.echoed["user"]
    return body


def _error(record: ResponseRecord) -> JSON:
    return {"code": record.scenario.error_code, "message": _FAIL_MESSAGE}


def _incomplete(record: ResponseRecord) -> JSON:
    return {"reason": record.scenario.incomplete_reason}


def output_items(record: ResponseRecord, status: str) -> list[JSON]:
    """Final output: a reasoning item, then the assistant message (never assume index 0)."""
    if status not in ("completed", "incomplete"):
        return []
    return [reasoning_item(record, "completed"), message_item(record, status)]


def reasoning_item(record: ResponseRecord, status: str) -> JSON:
    """A summary-less reasoning item, as deep-research models emit before the answer."""
    return {
        "id": derived_id("rs_", record.id),
        "type": "reasoning",
        "summary": [],
        "status": status,
    }


def message_item(record: ResponseRecord, status: str, with_text: bool = True) -> JSON:
    """The assistant message carrying the answer text and its citations."""
    content = [text_part(record)] if with_text else []
    return {
        "id": derived_id("msg_", record.id),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def text_part(record: ResponseRecord, empty: bool = False) -> JSON:
    """An ``output_text`` content part (empty at the start of a stream)."""
    return {
        "type": "output_text",
        "text": "" if empty else record.answer.text,
        "annotations": [] if empty else record.answer.annotations(),
        "logprobs": [],
    }


def usage(record: ResponseRecord) -> JSON:
    """Token counts estimated at four characters a token, with reasoning on top."""
    visible = math.ceil(len(record.answer.text) / 4)
    reasoning = visible * 2
    output = visible + reasoning
    return {
        "input_tokens": record.input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": record.input_tokens + output,
    }
