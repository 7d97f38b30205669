"""A finished job's result in its thread: whole, split across messages, or as a file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.blocks.text import chunks, context, fit, hyperlink, mrkdwn, section, size
from models.job import Job

# At most this many sections a message (far under the 50-block limit), and at most this
# much text in all: besides the documented per-block limits, Slack refuses a message whose
# blocks hold more than about 12,000 characters of text (`msg_blocks_too_long`; documented
# for markdown blocks, reported for sections too), so we keep a margin below it.
SECTIONS_PER_MESSAGE = 10
MESSAGE_TEXT_MAX = 10_000
# Longer than this and a file reads better than a wall of messages.
FILE_THRESHOLD = 60_000
NO_TEXT = "_(the model returned no text)_"
INCOMPLETE = "incomplete:"
TITLE_MAX = 200


@dataclass(frozen=True)
class Message:
    """One chat.postMessage worth of result."""

    text: str
    blocks: list[dict[str, Any]]


def too_long_for_messages(job: Job) -> bool:
    return len(job.output_text or "") > FILE_THRESHOLD


def result_messages(job: Job, heading: str, *, ping: str = "") -> list[Message]:
    """The whole output as mrkdwn sections, citations listed last, nothing cut; an answer
    the provider cut off says so at its top. `ping` (Errand's own mention of the
    requester) goes before the first message's heading, so Slack notifies them."""
    output = job.output_text or ""
    body = [*cut_off_note(job), *chunks(mrkdwn(output if output.strip() else NO_TEXT))]
    sources = citation_lines(job)
    if sources:
        body.extend(chunks("*Sources*\n" + "\n".join(sources)))
    groups = _grouped(body)
    messages = []
    for number, group in enumerate(groups, start=1):
        part = f" (part {number} of {len(groups)})" if len(groups) > 1 else ""
        blocks = [section(text) for text in group]
        said = f"{ping}{heading}{part}" if number == 1 else f"{heading}{part}"
        if number == 1:
            blocks.insert(0, context(said))
        messages.append(Message(said, blocks))
    return messages


def cut_off(job: Job) -> bool:
    """The provider stopped the answer early and what it wrote is delivered (`job.error`
    says incomplete)."""
    return (job.error or "").startswith(INCOMPLETE) and bool(job.output_text)


def cut_off_reason(job: Job) -> str:
    """`cut off: <why>`, in people's words (the record keeps `incomplete: <why>`)."""
    return "cut off: " + ((job.error or "").removeprefix(INCOMPLETE).strip() or "stopped early")


def cut_off_note(job: Job) -> list[str]:
    """A warning at the top of an answer the provider stopped early."""
    if not cut_off(job):
        return []
    reason = fit((job.error or "").removeprefix(INCOMPLETE).strip() or "it stopped early", 300)
    return [
        f":warning: *Cut off:* {reason}. What follows is what the model wrote before it "
        "stopped; it is incomplete."
    ]


def _grouped(texts: list[str]) -> list[list[str]]:
    """Sections packed into messages within SECTIONS_PER_MESSAGE and MESSAGE_TEXT_MAX."""
    groups: list[list[str]] = []
    current: list[str] = []
    total = 0
    for text in texts:
        full = len(current) >= SECTIONS_PER_MESSAGE or total + size(text) > MESSAGE_TEXT_MAX
        if current and full:
            groups.append(current)
            current, total = [], 0
        current.append(text)
        total += size(text)
    return [*groups, current] if current else groups


def citation_lines(job: Job) -> list[str]:
    """Citations the provider returned that the text does not already show, as links."""
    cited = (job.output or {}).get("citations") or []
    shown = job.output_text or ""
    lines = []
    for item in cited:
        url = str(item.get("url") or "")
        if url.startswith(("http://", "https://")) and url not in shown:
            title = " ".join(str(item.get("title") or url).split())
            lines.append(f"• {hyperlink(url, fit(title, TITLE_MAX))}")
    return lines


def file_comment(job: Job, heading: str) -> str:
    """The message that goes with a result uploaded as a file."""
    note = "".join(f" {line}" for line in cut_off_note(job))
    return f"{heading}: {len(job.output_text or ''):,} characters, attached as a file.{note}"
