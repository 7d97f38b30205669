"""The `/batch` modal: a file of rows and the instructions for each row; and what it turns
into while a large file is read (a wait), and after (the job started, or the form again
with what was wrong with the file)."""

from __future__ import annotations

from typing import Any

from bot.blocks.text import context, fit, section
from bot.ids import BlockId, CallbackId

FILETYPES = ("csv", "jsonl", "ndjson", "txt")
INPUT_MAX = 3_000  # Slack's plain_text_input holds at most 3,000 characters
NAME_MAX = 120
PROBLEM_MAX = 1_000
TITLE = {"type": "plain_text", "text": "Batch"}

View = dict[str, Any]


def batch_modal(
    metadata: str,
    *,
    instructions: str = "",
    max_chars: int = INPUT_MAX,
    max_rows: int = 50_000,
    problem: str | None = None,
) -> View:
    """The form: what a batch is, the file, the instructions (prefilled from `/batch
    <text>`); `problem` says what was wrong with the last file, when it is shown again.
    Where the answer goes (channel, response URL) rides along in `metadata`."""
    limit = min(max_chars, INPUT_MAX)
    about = (
        "Run the same instructions on every row of a file: a CSV whose first line names the "
        f"columns, or JSON Lines (one object per line), up to {max_rows:,} rows. The answers "
        "come back as a CSV in the job's thread, at the Batch API's half price, within "
        "24 hours (often much sooner)."
    )
    warning = [context(f":warning: {fit(problem, PROBLEM_MAX)}")] if problem else []
    instructions_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": BlockId.BATCH_INSTRUCTIONS_INPUT.value,
        "multiline": True,
        "max_length": limit,
        "placeholder": {"type": "plain_text", "text": "e.g. Classify the ticket's urgency."},
    }
    if instructions.strip():
        instructions_input["initial_value"] = instructions.strip()[:limit]
    return {
        "type": "modal",
        "callback_id": CallbackId.BATCH.value,
        "private_metadata": metadata,
        "title": TITLE,
        "submit": {"type": "plain_text", "text": "Run batch"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(about),
            *warning,
            {
                "type": "input",
                "block_id": BlockId.BATCH_FILE.value,
                "label": {"type": "plain_text", "text": "File of rows"},
                "hint": {
                    "type": "plain_text",
                    "text": "A CSV's first line names the columns; JSON Lines: one object a line.",
                },
                "element": {
                    "type": "file_input",
                    "action_id": BlockId.BATCH_FILE_INPUT.value,
                    "filetypes": list(FILETYPES),
                    "max_files": 1,
                },
            },
            {
                "type": "input",
                "block_id": BlockId.BATCH_INSTRUCTIONS.value,
                "label": {"type": "plain_text", "text": "Instructions for each row"},
                "element": instructions_input,
            },
        ],
    }


def reading_modal(filename: str) -> View:
    """While a large file is read past Slack's three seconds: closing it loses nothing,
    since the outcome is also sent as a message when this window is gone."""
    text = (
        f":hourglass_flowing_sand: Reading *{fit(filename, NAME_MAX)}*… A large file takes "
        "a moment. You can close this window: if it is gone when Errand is done, you get "
        "a message instead."
    )
    return _notice_modal(text)


def started_modal(job_id: str, rows: int, filename: str, channel: str | None) -> View:
    """The job is stored: where its card and results will be."""
    return _notice_modal(started_line(job_id, rows, filename, channel))


def started_line(job_id: str, rows: int, filename: str, channel: str | None) -> str:
    """One sentence for the modal and for the message that may replace it."""
    where = f"in <#{channel}>" if channel else "in your messages with Errand"
    return (
        f":white_check_mark: Started batch job `{job_id}` on {rows:,} rows from "
        f"*{fit(filename, NAME_MAX)}*. Its status card is {where}; the results file will "
        "arrive in its thread."
    )


def _notice_modal(text: str) -> View:
    return {
        "type": "modal",
        "callback_id": CallbackId.BATCH.value,
        "title": TITLE,
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [section(text)],
    }
