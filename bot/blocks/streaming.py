"""An answer's text as it streams into Slack: rendered so that what was sent never changes.

A Slack stream only appends: a piece once shown cannot be rewritten. So the answer is
rendered exactly as its whole text is (`unping`: cleaned, escaped, `@channel`-style
pings broken), and a stream sends only the part that no later text can change. Two
endings can still change and wait for the next piece (or the end): an `@` followed by the
start of a ping word (`@chan` may become `@channel`, and `@here` may become `@heres`,
which pings nobody), and a carriage return (`\\r` then `\\n` is one line end).
"""

from __future__ import annotations

import re

from bot.blocks.text import unping

PINGS = ("channel", "here", "everyone")  # the words `text._BROADCAST` breaks after an `@`
# An `@` and any start of a ping word, at the very end (matched as the breaker matches).
_OPEN_PING = re.compile(
    "@(?:" + "|".join(re.escape(w[:n]) for w in PINGS for n in range(len(w) + 1)) + r")\Z",
    re.IGNORECASE,
)


def whole(text: str) -> str:
    """The whole answer as a stream shows it once it has ended."""
    return unping(text)


def settled(text: str) -> str:
    """The rendering of the longest start of `text` that no later text can change: always
    a prefix of `whole(text + more)`, whatever `more` is."""
    return unping(text[: _settled_end(text)])


def _settled_end(text: str) -> int:
    if text.endswith("\r"):
        return len(text) - 1
    found = _OPEN_PING.search(text, max(0, len(text) - max(map(len, PINGS)) - 1))
    return found.start() if found else len(text)
