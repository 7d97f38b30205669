"""A batch job's rows: read from the file a person gives (CSV with a header row, or JSON
Lines), kept compact in the database, and written back out with the answers.

Every refusal is an `InputRejected` whose sentence the requester reads in the modal or on
the CLI's stderr, so each says what is wrong and where, and nothing is half accepted.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from models.errors import InputRejected

MAX_ROWS = 50_000
# Where the results go in the results file; an input column of either name would be lost.
RESULT_COLUMNS = ("answer", "error")
# A cell a spreadsheet would run as a formula starts with one of these (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_JSONL = (".jsonl", ".ndjson")


@dataclass(frozen=True)
class Rows:
    """The rows of a batch file: every row has every column ("" where a line had none)."""

    columns: list[str]
    rows: list[dict[str, str]]

    def __len__(self) -> int:
        return len(self.rows)


def parse_rows(data: bytes, filename: str, *, max_rows: int = MAX_ROWS) -> Rows:
    """The rows of a CSV (header row first) or JSON Lines file; the extension decides which
    (.csv, .jsonl, .ndjson), else the first character (`{`: JSON Lines)."""
    text = _text(data)
    if not text.strip():
        raise InputRejected("That file is empty: give a CSV with a header row, or JSON Lines.")
    jsonl = _is_jsonl(filename, text)
    columns, rows = _read_jsonl(text, max_rows) if jsonl else _read_csv(text, max_rows)
    if not rows:
        raise InputRejected("That file has no rows to run, only a header row.")
    _refuse_result_columns(columns)
    return Rows(columns, [{c: row.get(c, "") for c in columns} for row in rows])


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputRejected(
            f"That file is not UTF-8 text (byte {exc.start + 1:,} is not); save it as UTF-8 "
            "(in Excel: CSV UTF-8) and try again."
        ) from None


def _is_jsonl(filename: str, text: str) -> bool:
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return False
    return name.endswith(_JSONL) or text.lstrip().startswith("{")


def _too_many(max_rows: int) -> InputRejected:
    return InputRejected(
        f"That file has more than {max_rows:,} rows; a batch takes at most {max_rows:,}. "
        "Split it into smaller files."
    )


def _read_csv(text: str, max_rows: int) -> tuple[list[str], list[dict[str, str]]]:
    lines = _csv_records(text)
    first = next(lines, None)
    columns = _header(first[1] if first else [])
    rows: list[dict[str, str]] = []
    for number, cells in lines:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, or one of only commas: no row
        if len(cells) > len(columns):
            raise InputRejected(
                f"Line {number:,} has {len(cells)} cells but the header row names only "
                f"{len(columns)}; quote cells that contain commas."
            )
        if len(rows) == max_rows:
            raise _too_many(max_rows)
        rows.append(dict(zip(columns, cells, strict=False)))
    return columns, rows


def _csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on; a malformed one is refused by its line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputRejected(f"Line {start:,} of that CSV cannot be read: {exc}.") from None
        yield start, cells


def _header(cells: list[str]) -> list[str]:
    """The column names: each non-empty and different, or the first line is not a header."""
    names = [name.strip() for name in cells]
    for index, name in enumerate(names, start=1):
        if not name:
            raise InputRejected(
                f"The first line must be a header row naming every column; column {index} "
                "has no name."
            )
        if names.index(name) != index - 1:
            raise InputRejected(
                f"The first line must be a header row naming every column once; "
                f"{name!r} names two columns."
            )
    if all(_is_number(name) for name in names):
        raise InputRejected(
            "The first line looks like data (only numbers), not a header row; add a first "
            "line naming each column."
        )
    return names


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def _read_jsonl(text: str, max_rows: int) -> tuple[list[str], list[dict[str, str]]]:
    columns: dict[str, None] = {}
    rows: list[dict[str, str]] = []
    # Split on newlines only: a JSON string may hold U+2028 and other line breaks as is.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        if len(rows) == max_rows:
            raise _too_many(max_rows)
        row = _json_row(number, line)
        columns.update(dict.fromkeys(row))
        rows.append(row)
    return list(columns), rows


def _json_row(number: int, line: str) -> dict[str, str]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputRejected(
            f"Line {number:,} is not valid JSON ({exc.msg}, at character {exc.colno:,})."
        ) from None
    if not isinstance(value, dict):
        raise InputRejected(f'Line {number:,} is not a JSON object ({{"column": value, …}}).')
    if any(not key.strip() for key in value):
        raise InputRejected(f"Line {number:,} has a key with no name.")
    return {key.strip(): cell_text(cell) for key, cell in value.items()}


def cell_text(value: Any) -> str:
    """A JSON value as a cell: strings as they are, null empty, anything else as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def _refuse_result_columns(columns: list[str]) -> None:
    taken = [c for c in columns if c.lower() in RESULT_COLUMNS]
    if taken:
        raise InputRejected(
            f"The results file adds the columns `answer` and `error`; rename the column "
            f"{taken[0]!r} in your file and try again."
        )


def row_prompt(columns: list[str], row: dict[str, str]) -> str:
    """What the model reads for one row: each column's name and value, one per line."""
    return "\n".join(f"{column}: {row.get(column, '')}" for column in columns)


def pack_rows(rows: Rows) -> bytes:
    """The rows as gzip'd JSON (columns, then each row's cells in column order): a 50,000-row
    file in one compact value, read back whole by the worker that launches it."""
    body = {"columns": rows.columns, "cells": [[r[c] for c in rows.columns] for r in rows.rows]}
    return gzip.compress(json.dumps(body, ensure_ascii=False).encode("utf-8"), compresslevel=5)


def unpack_rows(data: bytes) -> Rows:
    """The rows `pack_rows` stored."""
    body = json.loads(gzip.decompress(data).decode("utf-8"))
    columns: list[str] = body["columns"]
    return Rows(columns, [dict(zip(columns, cells, strict=True)) for cells in body["cells"]])


def results_csv(rows: Rows, results: Iterable[tuple[str, str]]) -> bytes:
    """The results file: the input columns plus `answer` and `error`, one line per input row
    in row order. An answer a spreadsheet would run as a formula is prefixed with `'`, the
    way spreadsheets mark text; the input cells are the requester's own and stay as given."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*rows.columns, *RESULT_COLUMNS])
    for row, (answer, error) in zip(rows.rows, results, strict=True):
        writer.writerow([*(row[c] for c in rows.columns), _inert(answer), error])
    return out.getvalue().encode("utf-8")


def _inert(answer: str) -> str:
    return "'" + answer if answer.startswith(FORMULA_START) else answer
