"""Batch input files: JSONL lines ``{"custom_id", "method": "POST", "url", "body"}``.

Problems with the file as a whole (unparseable lines, duplicate ids, a wrong url or method,
mixed models, no lines) fail the batch once validation ends, listed in ``errors.data`` with
their line numbers. A line whose body the API would refuse (say, no model) still runs, and
fails alone into the error file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sandbox.openai_batches import BatchRow
from sandbox.openai_errors import ApiError
from sandbox.openai_responses import JSON, fraction_from_id

MAX_ROWS = 50_000
_PROBLEMS: dict[str, tuple[str, str | None]] = {
    "invalid_json_line": ("This line is not parseable as valid JSON.", None),
    "missing_required_parameter": ("Missing required parameter: 'custom_id'.", "custom_id"),
    "invalid_method": ("The method for this request must be 'POST'.", "method"),
    "invalid_url": ("The URL provided for this request does not match the batch endpoint.", "url"),
    "invalid_body": ("The body of this request must be a JSON object.", "body"),
    "duplicate_custom_id": (
        "The custom_id for this request is a duplicate of another request. The custom_id"
        " parameter must be unique for each request in a batch.",
        "custom_id",
    ),
    "mismatched_model": (
        "The provided model does not match the model of the other requests. Each batch input"
        " file must use a single model.",
        "body.model",
    ),
    "empty_file": (
        "The batch input file is empty. Please ensure that the batch contains at least one"
        " request.",
        None,
    ),
    "too_many_tasks": (f"The batch input file has more than {MAX_ROWS:,} requests.", None),
}
Judge = Callable[[str, JSON], ApiError | None]


def parse_input(content: bytes, endpoint: str, judge: Judge) -> tuple[list[BatchRow], list[JSON]]:
    """Rows (each with the error ``judge(custom_id, body)`` gives it), and the file-level
    errors that will fail the batch (none when the file is valid)."""
    text = content.decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or len(lines) > MAX_ROWS:
        return [], [_problem("empty_file" if not lines else "too_many_tasks", None)]
    rows: list[BatchRow] = []
    errors: list[JSON] = []
    seen: set[str] = set()
    models: set[str] = set()
    for number, line in enumerate(lines, 1):
        row = _parsed(line)
        code = _shape_problem(row, endpoint) or _repeat_problem(row, seen, models)
        if code is not None:
            errors.append(_problem(code, number))
        else:
            rows.append(
                BatchRow(row["custom_id"], row["body"], judge(row["custom_id"], row["body"]))
            )
    return rows, errors


def _parsed(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def _shape_problem(row: Any, endpoint: str) -> str | None:
    if not isinstance(row, dict):
        return "invalid_json_line"
    if not isinstance(row.get("custom_id"), str) or not row["custom_id"]:
        return "missing_required_parameter"
    if row.get("method") != "POST":
        return "invalid_method"
    if row.get("url") != endpoint:
        return "invalid_url"
    return None if isinstance(row.get("body"), dict) else "invalid_body"


def _repeat_problem(row: JSON, seen: set[str], models: set[str]) -> str | None:
    if row["custom_id"] in seen:
        return "duplicate_custom_id"
    seen.add(row["custom_id"])
    model = row["body"].get("model")
    if isinstance(model, str):
        models.add(model)
    return "mismatched_model" if len(models) > 1 else None


def _problem(code: str, line: int | None) -> JSON:
    message, param = _PROBLEMS[code]
    return {"code": code, "message": message, "param": param, "line": line}


def row_failure(
    batch_id: str, custom_id: str, rate: float, invalid: ApiError | None
) -> ApiError | None:
    """A row fails if the API would refuse its body, else with chance ``rate`` (fixed per
    row, so the same batch fails the same rows on every run)."""
    if invalid is not None:
        return invalid
    if rate > 0 and fraction_from_id(f"{batch_id}:{custom_id}") < rate:
        message = "The server had an error while processing your request. Sorry about that!"
        return ApiError(500, message, type="server_error")
    return None
