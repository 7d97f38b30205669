"""The JSON shapes of a response: the ``Response`` object, its output items and usage.

Output order is what deep-research models produce: a reasoning item, the web searches (when a
web search tool was offered), then the assistant message. Clients must never assume the
message is ``output[0]``.
"""

from __future__ import annotations

from typing import Any

from sandbox.openai_content import topic_of
from sandbox.openai_responses import JSON, ResponseRecord, derived_id
from sandbox.openai_scenario import input_text, strip_directives

# Request fields echoed back, with the value the API reports when they are absent.
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
_DEFAULT_TEXT: JSON = {"format": {"type": "text"}, "verbosity": "medium"}
_DEFAULT_REASONING: JSON = {"effort": None, "summary": None}
_FAIL_MESSAGE = "The model failed to generate a response. Please try again."
_SEARCH_ANGLES = ("overview", "latest figures", "criticism and limits", "case studies")


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
    """Final output: reasoning, web searches, then the message (if any text was produced)."""
    if status not in ("completed", "incomplete"):
        return []
    items = [reasoning_item(record, "completed")]
    items += [web_search_item(record, n, "completed") for n in range(record.web_searches)]
    if has_message(record):
        items.append(message_item(record, status))
    return items


def has_message(record: ResponseRecord) -> bool:
    """A response cut off during reasoning (``max_output_tokens``) has no message at all."""
    return bool(record.answer.text) or record.scenario.outcome == "completed"


def message_index(record: ResponseRecord) -> int:
    """The message's place in ``output``: after the reasoning item and the searches."""
    return 1 + record.web_searches


def reasoning_item(record: ResponseRecord, status: str) -> JSON:
    """A summary-less reasoning item, as deep-research models emit before the answer."""
    return {
        "id": derived_id("rs_", record.id),
        "type": "reasoning",
        "summary": [],
        "status": status,
    }


def web_search_item(record: ResponseRecord, number: int, status: str) -> JSON:
    """The ``number``-th web search call (counted for tool-call cost)."""
    topic = topic_of(strip_directives(input_text(record.input)))
    return {
        "id": derived_id("ws_", f"{number}:{record.id}"),
        "type": "web_search_call",
        "status": status,
        "action": {"type": "search", "query": f"{topic} {_SEARCH_ANGLES[number % 4]}"},
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
    """Token counts at four characters a token, reasoning on top (capped output included)."""
    output = record.output_tokens
    return {
        "input_tokens": record.input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": record.reasoning_tokens},
        "total_tokens": record.input_tokens + output,
    }
