"""A finished batch's output and error files, read back into one result per input row.

The provider writes a line per request it ran (`custom_id` is the row's number), in no
promised order, successes in the output file and failures (and requests a cancel or the
window's end kept from running) in the error file. Each row gets an answer or an error in
Errand's words: these go into the results file posted in a channel, so the provider's own
messages never do (they stay in the provider's files).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from models.batch import Tally

UNRUN = {
    "batch_cancelled": "not run: the batch was cancelled first",
    "batch_expired": "not run: the provider's 24-hour window closed first",
}
MISSING = "no result came back for this row"
CUT_OFF = {
    "max_output_tokens": "cut off at the output limit",
    "content_filter": "stopped by the provider's content filter",
}


@dataclass
class Results:
    """Per row (in row order) its answer and error, what all rows used, and the tally."""

    cells: list[tuple[str, str]]
    usage: dict[str, Any] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)


def read_results(rows: int, *files: bytes) -> Results:
    """Each of `rows` rows' result from the batch's files (a row no line names: missing)."""
    found: dict[int, tuple[str, str, str]] = {}
    usage = _Usage()
    for data in files:
        for line in io.BytesIO(data):  # a line at a time: an output file can be 100 MB
            parsed = _line(line, rows)
            if parsed is not None:
                number, item = parsed
                found[number] = _result(item, usage)
    cells, tally = [], Tally(rows=rows)
    for number in range(1, rows + 1):
        outcome, answer, error = found.get(number, ("unrun", "", MISSING))
        tally = tally.add(outcome)
        cells.append((answer, error))
    return Results(cells, usage.as_dict() if usage.counted else {}, tally)


def _line(line: bytes, rows: int) -> tuple[int, dict[str, Any]] | None:
    """The row number and the line, for a line naming a row of this batch."""
    if not line.strip():
        return None
    try:
        item = json.loads(line)
    except ValueError:
        return None
    custom_id = str(item.get("custom_id") or "") if isinstance(item, dict) else ""
    if not custom_id.isdigit() or not 1 <= int(custom_id) <= rows:
        return None
    return int(custom_id), item


def _result(item: dict[str, Any], usage: _Usage) -> tuple[str, str, str]:
    """(done | failed | unrun, answer, error) for one line of the output or error file."""
    error = item.get("error") or {}
    if error:
        code = str(error.get("code") or "error")
        if code in UNRUN:
            return "unrun", "", UNRUN[code]
        return "failed", "", f"the AI provider could not run this row ({code})"
    response = item.get("response") or {}
    body = response.get("body") or {}
    status = response.get("status_code")
    if status != 200:
        error = body.get("error") or {}
        code = error.get("code") or error.get("type") or f"HTTP {status}"
        if isinstance(status, int) and status < 500:
            return "failed", "", f"the AI provider refused this row ({code})"
        return "failed", "", f"the AI provider could not run this row ({code})"
    usage.add(body.get("usage") or {})
    return _answered(body)


def _answered(body: dict[str, Any]) -> tuple[str, str, str]:
    text = output_text(body)
    status = body.get("status")
    if status == "completed":
        return "done", text, ""
    if status == "incomplete":
        reason = str((body.get("incomplete_details") or {}).get("reason") or "")
        said = CUT_OFF.get(reason, "stopped early")
        return ("done" if text else "failed"), text, f"incomplete: {said}"
    code = (body.get("error") or {}).get("code") or status
    return "failed", "", f"the AI provider could not finish this row ({code})"


def output_text(body: dict[str, Any]) -> str:
    """The text of a Response's message outputs, as the SDK's `output_text` joins it."""
    return "".join(
        str(part.get("text") or "")
        for item in body.get("output") or []
        if item.get("type") == "message"
        for part in item.get("content") or []
        if part.get("type") == "output_text"
    )


class _Usage:
    """Token counts summed over rows, in the shape of one response's `usage`."""

    def __init__(self) -> None:
        self.counted = False
        self.input = self.cached = self.output = self.reasoning = 0

    def add(self, usage: dict[str, Any]) -> None:
        if not usage:
            return
        self.counted = True
        self.input += int(usage.get("input_tokens") or 0)
        self.cached += int((usage.get("input_tokens_details") or {}).get("cached_tokens") or 0)
        self.output += int(usage.get("output_tokens") or 0)
        self.reasoning += int(
            (usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input,
            "input_tokens_details": {"cached_tokens": self.cached},
            "output_tokens": self.output,
            "output_tokens_details": {"reasoning_tokens": self.reasoning},
            "total_tokens": self.input + self.output,
        }
