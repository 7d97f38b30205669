"""Model and user text made safe for Slack mrkdwn: escaped, unpinging, split within limits."""

from __future__ import annotations

import re
from typing import Any

# Block Kit limits: a section's text is at most 3,000 characters, a message at most
# 50 blocks. We stay under both with a margin for the formatting we add.
SECTION_CHARS = 2_900
ZWSP = "\u200b"

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*]\s+", re.MULTILINE)
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def escape(text: str) -> str:
    """Slack's three control characters; escaping `<` and `>` also disarms every
    `<!channel>`, `<!subteam^...>` and `<@U...>` in text we did not write."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unping(text: str) -> str:
    """Escape, then break plain `@channel`/`@here`/`@everyone` so nobody is notified."""
    return _BROADCAST.sub(lambda m: f"@{ZWSP}{m.group(1)}", escape(text))


def mrkdwn(markdown: str) -> str:
    """Markdown from the model as Slack mrkdwn: links, bold, headings, bullets."""
    text = unping(markdown)
    text = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1).replace('|', '/')}>", text)
    text = _HEADING.sub(lambda m: "*" + m.group(1).replace("**", "").strip("*") + "*", text)
    text = _BOLD.sub(r"*\1*", text)
    return _BULLET.sub(r"\1• ", text)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def clip(text: str, limit: int) -> str:
    """Shorten text for a preview (never for a result), marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def chunks(text: str, size: int = SECTION_CHARS) -> list[str]:
    """Split on paragraph, then line, then word boundaries so no piece exceeds `size`."""
    pieces: list[str] = []
    current = ""
    for part in _atoms(text, size):
        if current and len(current) + len(part) > size:
            pieces.append(current.rstrip("\n"))
            current = ""
        current += part
    if current.strip():
        pieces.append(current.rstrip("\n"))
    return pieces


def _atoms(text: str, size: int) -> list[str]:
    """Lines (with their newline) no longer than `size`, cut at spaces where possible."""
    atoms: list[str] = []
    for line in text.splitlines(keepends=True):
        rest = line
        while len(rest) > size:
            cut = rest.rfind(" ", 0, size)
            cut = cut if cut > size // 2 else size
            atoms.append(rest[:cut])
            rest = rest[cut:]
        atoms.append(rest)
    return atoms
