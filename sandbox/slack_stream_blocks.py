"""Streaming chunks as Slack checks them, and a streamed message as Block Kit.

Chunks are `markdown_text` (at most 12,000 characters each), `task_update` (a task card:
id, title, status pending/in_progress/complete/error, details, output, sources),
`plan_update` (the plan's title) and `blocks`. A task update replaces the task's title,
status, output and sources and appends to its details. In `timeline` mode task cards sit
between the streamed text where they first appeared; in `plan` mode they are gathered in
one plan block.
"""

from __future__ import annotations

from typing import Any

from sandbox.slack_blocks import validate_blocks
from sandbox.slack_common import SlackError
from sandbox.slack_models import Stream

JSON = dict[str, Any]
MARKDOWN_MAX = 12_000
TASK_FIELD_MAX = 256
TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
DISPLAY_MODES = frozenset({"timeline", "plan"})


def checked_markdown(text: object) -> str:
    """Streamed markdown is limited per call, not per message (`msg_too_long`)."""
    if not isinstance(text, str):
        raise SlackError("invalid_arguments", messages=["[ERROR] markdown_text must be a string"])
    if len(text) > MARKDOWN_MAX:
        raise SlackError("msg_too_long")
    return text


def checked_chunks(chunks: object) -> list[JSON]:
    """Each chunk of a known type and within its limits, or Slack's error for it."""
    if not isinstance(chunks, list) or not all(isinstance(c, dict) for c in chunks):
        raise SlackError("invalid_chunks", messages=["[ERROR] chunks must be an array of objects"])
    for index, chunk in enumerate(chunks):
        _check_chunk(chunk, f"/chunks/{index}")
    return chunks


def _check_chunk(chunk: JSON, ptr: str) -> None:
    kind = chunk.get("type")
    if kind == "markdown_text":
        checked_markdown(chunk.get("text"))
    elif kind == "task_update":
        _check_task(chunk, ptr)
    elif kind == "plan_update":
        _check_field(chunk, "title", ptr, required=True)
    elif kind == "blocks":
        problems = validate_blocks(chunk.get("blocks"), pointer=f"{ptr}/blocks")
        if problems:
            raise SlackError("invalid_blocks", messages=[f"[ERROR] {p}" for p in problems])
    else:
        _invalid(f"unknown chunk type: {kind}", f"{ptr}/type")


def _check_task(chunk: JSON, ptr: str) -> None:
    for name in ("id", "title"):
        _check_field(chunk, name, ptr, required=True)
    if chunk.get("status") not in TASK_STATUSES:
        _invalid(f"status must be one of {sorted(TASK_STATUSES)}", f"{ptr}/status")
    for name in ("details", "output"):
        _check_field(chunk, name, ptr, required=False)
    if "sources" in chunk and not isinstance(chunk["sources"], list):
        _invalid("sources must be an array", f"{ptr}/sources")


def _check_field(chunk: JSON, name: str, ptr: str, *, required: bool) -> None:
    value = chunk.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value:
        _invalid(f"missing required field: {name}", f"{ptr}/{name}")
    elif name != "details" and len(value) > TASK_FIELD_MAX:
        _invalid(f"must be less than {TASK_FIELD_MAX + 1} characters", f"{ptr}/{name}")


def _invalid(message: str, pointer: str) -> None:
    raise SlackError("invalid_chunks", messages=[f"[ERROR] {message} [json-pointer:{pointer}]"])


# -- applying chunks ---------------------------------------------------------------------


def apply_text(stream: Stream, text: str) -> None:
    """Append markdown, joining the text segment it continues."""
    if stream.segments and "text" in stream.segments[-1]:
        stream.segments[-1]["text"] += text
    elif text:
        stream.segments.append({"text": text})


def apply_chunks(stream: Stream, chunks: list[JSON]) -> None:
    for chunk in chunks:
        kind = chunk["type"]
        if kind == "markdown_text":
            apply_text(stream, chunk["text"])
        elif kind == "task_update":
            _apply_task(stream, chunk)
        elif kind == "plan_update":
            stream.plan_title = chunk["title"]
        else:
            stream.segments.append({"blocks": list(chunk["blocks"])})


def _apply_task(stream: Stream, chunk: JSON) -> None:
    """A new task takes its place in the timeline; a known one is updated in place."""
    task = stream.tasks.get(chunk["id"])
    if task is None:
        stream.segments.append({"task": chunk["id"]})
        stream.tasks[chunk["id"]] = task = {"details": ""}
    task.update({k: chunk[k] for k in ("title", "status", "output", "sources") if k in chunk})
    task["details"] += chunk.get("details") or ""


def streamed_text(stream: Stream) -> str:
    """Everything streamed as markdown, in order: the message's `text`."""
    return "".join(seg["text"] for seg in stream.segments if "text" in seg)


# -- rendering ---------------------------------------------------------------------------


def stream_blocks(stream: Stream) -> list[JSON]:
    """The message as blocks: text as markdown blocks, tasks as cards or one plan, then the
    blocks given when the stream stopped."""
    out: list[JSON] = []
    for seg in stream.segments:
        if "text" in seg:
            out.append({"type": "markdown", "text": seg["text"]})
        elif "blocks" in seg:
            out.extend(seg["blocks"])
        elif stream.display_mode == "timeline":
            out.append(_task_card(seg["task"], stream.tasks[seg["task"]]))
        elif not any(b.get("type") == "plan" for b in out):
            out.append(_plan(stream))
    if stream.display_mode == "plan" and stream.plan_title and not stream.tasks:
        out.insert(0, _plan(stream))
    return out + stream.final_blocks


def _plan(stream: Stream) -> JSON:
    cards = [_task_card(task_id, task) for task_id, task in stream.tasks.items()]
    return {"type": "plan", "title": stream.plan_title or "", "tasks": cards}


def _task_card(task_id: str, task: JSON) -> JSON:
    card: JSON = {
        "type": "task_card",
        "task_id": task_id,
        "title": task.get("title", ""),
        "status": task.get("status", "pending"),
    }
    for name in ("details", "output"):
        if task.get(name):
            card[name] = _rich_text(task[name])
    if task.get("sources"):
        card["sources"] = task["sources"]
    return card


def _rich_text(text: str) -> JSON:
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return {"type": "rich_text", "elements": [section]}
