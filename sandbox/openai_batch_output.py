"""Batch output and error files: JSONL result lines, written when a batch finishes.

Output lines are ``{"id", "custom_id", "response": {"status_code", "request_id", "body"},
"error": null}`` (``body`` a ``Response`` for a 200, an ``{"error": ...}`` otherwise), in no
particular order, as upstream promises none (match them by ``custom_id``); requests a cancel
or the window's end kept from running go to the error file as ``{"response": null, "error":
{"code": "batch_cancelled" | "batch_expired", "message"}}``.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from sandbox.openai_batches import BatchRecord, BatchRow
from sandbox.openai_files import StoredFile
from sandbox.openai_render import render
from sandbox.openai_responses import JSON, derived_id, new_record

_UNEXECUTED = {
    "cancelled": (
        "batch_cancelled",
        "This request could not be executed before the batch was cancelled.",
    ),
    "expired": (
        "batch_expired",
        "This request could not be executed before the completion window expired.",
    ),
}


def output_files(batch: BatchRecord, status: str, now: float) -> list[StoredFile]:
    """The output file (successes) and error file (failures, unexecuted), whichever have lines."""
    done = batch.rows_done(now)
    good: list[str] = []
    bad: list[str] = []
    for index, row in enumerate(batch.rows):
        if index < done:
            (bad if row.failure else good).append(_result_line(batch, index, row))
        elif status in _UNEXECUTED:
            bad.append(_unexecuted_line(batch, row, status))
    finished = batch.terminal_at()
    order = random.Random(batch.id)  # the same batch's files the same on every look
    order.shuffle(good)
    order.shuffle(bad)
    made = [_file(batch, "output", good, finished), _file(batch, "error", bad, finished)]
    return [file for file in made if file is not None]


def _result_line(batch: BatchRecord, index: int, row: BatchRow) -> str:
    if row.failure is not None:
        status, body = row.failure.status, row.failure.body()
    else:
        status, body = 200, _response_body(batch, index, row)
    response = {"status_code": status, "request_id": _line_id("req_", batch, row), "body": body}
    return _line(batch, row, response, None)


def _response_body(batch: BatchRecord, index: int, row: BatchRow) -> JSON:
    """The response this row produced, finished when the row was."""
    request = {**row.body, "background": False, "stream": False}
    record = new_record(
        derived_id("resp_", f"{batch.id}:{row.custom_id}"), request, batch.settings, 0.0
    )
    record.created_at = batch.row_done_at(index) - record.duration_s
    return render(record, record.scenario.outcome)


def _unexecuted_line(batch: BatchRecord, row: BatchRow, status: str) -> str:
    code, message = _UNEXECUTED[status]
    return _line(batch, row, None, {"code": code, "message": message})


def _line(batch: BatchRecord, row: BatchRow, response: Any, error: Any) -> str:
    item = {"id": _line_id("batch_req_", batch, row), "custom_id": row.custom_id}
    return json.dumps({**item, "response": response, "error": error})


def _line_id(prefix: str, batch: BatchRecord, row: BatchRow) -> str:
    return prefix + hashlib.sha256(f"{prefix}{batch.id}:{row.custom_id}".encode()).hexdigest()[:32]


def _file(batch: BatchRecord, kind: str, lines: list[str], finished: float) -> StoredFile | None:
    if not lines:
        return None
    digest = hashlib.sha256(f"{batch.id}:{kind}".encode()).hexdigest()
    file_id = "file-" + digest[:22]
    content = ("\n".join(lines) + "\n").encode()
    return StoredFile(file_id, finished, f"{batch.id}_{kind}.jsonl", "batch_output", content)


def file_field(file: StoredFile) -> str:
    """The ``Batch`` field that names this file."""
    return "error_file_id" if file.filename.endswith("_error.jsonl") else "output_file_id"
