"""Text we did not write, made safe for Slack mrkdwn and kept within Block Kit limits.

Outside text (the question, the model's output, error texts, reasons, citation titles)
is cleaned of control characters, escaped and disarmed of mentions *first*, and only
then measured and cut, so escaping can never push a block past its limit. A cut never
splits an entity (`&amp;`) or a link (`<url|label>`).
"""

from __future__ import annotations

import re
from typing import Any

# Block Kit limits (docs.slack.dev: section block, text object, context block). Slack
# counts "characters" without saying which; we count UTF-16 code units, never fewer than
# code points, so text within a limit by our count is within it by either. (Also held,
# by the renderers and their tests: 50 blocks a message, 100 a view, 4,000 characters
# recommended for a message's `text`, 75 for a button, 150 for a header.)
SECTION_MAX = 3_000  # a section's text
CONTEXT_MAX = 2_000  # one context element; text objects allow 3,000, kept lower for a one-liner
# What a result section is filled to: room under SECTION_MAX for the code fences a split adds.
SECTION_CHARS = 2_900
# Longest `<url|label>` we write; longer ones stay plain text so a cut never has to split one.
LINK_MAX = 1_000
ELLIPSIS = "…"
ZWSP = "\u200b"
FENCE = "```"

# C0/C1 control characters (tab and newline kept) and lone surrogates, which Slack
# either rejects or shows as boxes; each becomes a space so words stay apart.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*]\s+", re.MULTILINE)
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_NOT_IN_URL = re.compile(r"[|\s]")


def size(text: str) -> int:
    """Length as Slack may count it: UTF-16 code units (an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clean(text: str) -> str:
    """Line ends normalised, control characters and lone surrogates replaced by spaces."""
    return _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))


def escape(text: str) -> str:
    """Slack's three control characters; escaping `<` and `>` also disarms every
    `<!channel>`, `<!subteam^...>` and `<@U...>` in text we did not write."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unping(text: str) -> str:
    """Clean, escape, then break plain `@channel`/`@here`/`@everyone` so nobody is notified."""
    return _unbroadcast(escape(clean(text)))


def _unbroadcast(text: str) -> str:
    return _BROADCAST.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)


def mrkdwn(markdown: str) -> str:
    """Markdown from the model as Slack mrkdwn: links, bold, headings, bullets."""
    text = _LINK.sub(_link, unping(markdown))
    text = _HEADING.sub(lambda m: "*" + m.group(1).replace("**", "").strip("*") + "*", text)
    text = _BOLD.sub(r"*\1*", text)
    return _BULLET.sub(r"\1• ", text)


def _link(match: re.Match[str]) -> str:
    return _joined(match.group(2), match.group(1))  # both already escaped by mrkdwn


def hyperlink(url: str, label: str) -> str:
    """A link to a URL we did not write, with a label that is already safe mrkdwn."""
    return _joined(escape(clean(url)), label)


def _joined(url: str, label: str) -> str:
    """`<url|label>`, or `label (url)` as plain text when it cannot be one: too long to
    keep whole in a cut, or a URL with a space or a `|` (Slack ends the URL there)."""
    label = label.replace("|", "/")
    if _NOT_IN_URL.search(url) or size(url) + size(label) + 3 > LINK_MAX:
        return f"{label} ({url})"
    return f"<{url}|{label}>"


def fit(text: str, limit: int, *, markdown: bool = False, keep_end: bool = False) -> str:
    """Outside text made safe, then cut to at most `limit` as Slack receives it (escaped,
    mentions disarmed, and for `markdown` converted to mrkdwn), marking a cut with `…`.
    `keep_end` keeps the end instead of the start (the latest words of a stream)."""
    if keep_end:
        return _clip_start(unping(text), limit)
    return _clip(mrkdwn(text) if markdown else unping(text), limit)


def _clip(safe: str, limit: int) -> str:
    """Shorten text that is already safe mrkdwn, never inside an entity or a link. A cut
    can end a word just after `@here` (`@heres` pinged nobody, `@here…` would): that is
    broken too, and the cut made shorter if the break pushes it over."""
    if size(safe) <= limit:
        return safe
    room = limit - size(ELLIPSIS)
    while True:
        cut = _unbroadcast(safe[: _cut_point(safe, room)].rstrip())
        if size(cut) + size(ELLIPSIS) <= limit:
            return cut + ELLIPSIS
        room -= 1


def _clip_start(safe: str, limit: int) -> str:
    """Drop the start of escaped text (no links in it) to fit, never inside an entity."""
    room = limit - size(ELLIPSIS)
    if size(safe) <= limit:
        return safe
    start = max(len(safe) - room, 0)
    while (over := size(safe[start:]) - room) > 0:
        start += over
    amp = safe.rfind("&", max(0, start - 4), start)
    semi = safe.find(";", amp) if amp >= 0 else -1
    if semi >= start:
        start = semi + 1
    return ELLIPSIS + safe[start:].lstrip()


def _cut_point(safe: str, limit: int) -> int:
    """The longest prefix of `safe` within `limit` that ends neither inside an entity like
    `&amp;` nor inside a `<…>` link (0 when even the first of those does not fit)."""
    end = min(len(safe), limit)
    while (over := size(safe[:end]) - limit) > 0:
        end -= over
    amp = safe.rfind("&", max(0, end - 4), end)
    if amp >= 0 and ";" not in safe[amp:end]:
        end = amp
    opened = safe.rfind("<", 0, end)
    return opened if opened > safe.rfind(">", 0, end) else end


def section(text: str) -> dict[str, Any]:
    """A mrkdwn section; the text is clipped to the section limit as a last guard."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": _bounded(text, SECTION_MAX)}}


def context(text: str) -> dict[str, Any]:
    """A one-element mrkdwn context line, clipped to CONTEXT_MAX as a last guard."""
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": _bounded(text, CONTEXT_MAX)}],
    }


def _bounded(text: str, limit: int) -> str:
    """Slack refuses an empty text object; one over its limit fails the whole message."""
    return _clip(text, limit) if text.strip() else "—"


def chunks(safe: str, limit: int = SECTION_CHARS) -> list[str]:
    """Split safe mrkdwn into pieces of at most `limit`, between lines where possible,
    else between words, never inside an entity or a link; nothing is dropped but blank
    pieces. A code block split across pieces is closed and reopened so each renders."""
    budget = limit - size(_fence_close("") + _fence_open(""))
    pieces: list[str] = []
    current, width = "", 0
    for atom in _atoms(safe, budget):
        atom_width = size(atom)
        if current and width + atom_width > budget:
            pieces.append(current)
            current, width = "", 0
        current, width = current + atom, width + atom_width
    pieces.append(current)
    return _fenced([piece.rstrip("\n") for piece in pieces if piece.strip()])


def _atoms(safe: str, limit: int) -> list[str]:
    """Lines (with their newline) no longer than `limit`, cut at spaces where possible."""
    atoms: list[str] = []
    for line in safe.splitlines(keepends=True):
        rest = line
        while size(rest) > limit:
            cut = _word_cut(rest, limit)
            atoms.append(rest[:cut])
            rest = rest[cut:]
        atoms.append(rest)
    return atoms


def _word_cut(line: str, limit: int) -> int:
    """Where to break an over-long line: the last space in its second half outside any
    link, else the last safe point; always > 0 so splitting makes progress."""
    end = _cut_point(line, limit) or max(min(len(line), limit // 2), 1)
    space = line.rfind(" ", 0, end)
    inside_link = line.rfind("<", 0, space) > line.rfind(">", 0, space)
    return space if space > end // 2 and not inside_link else end


def _fenced(pieces: list[str]) -> list[str]:
    fenced: list[str] = []
    reopen = False
    for piece in pieces:
        text = _fence_open(piece) if reopen else piece
        reopen = text.count(FENCE) % 2 == 1
        fenced.append(_fence_close(text) if reopen else text)
    return fenced


def _fence_open(piece: str) -> str:
    return f"{FENCE}\n{piece}"


def _fence_close(piece: str) -> str:
    return f"{piece}\n{FENCE}"
