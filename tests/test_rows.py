"""A batch's rows as read from a person's file, and its results file as written back:
every refusal says what is wrong and where; hostile cell text survives the round trip."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import InputRejected
from models.rows import FORMULA_START, Rows, pack_rows, parse_rows, results_csv, unpack_rows


def test_a_csv_with_a_bom_quotes_and_blank_lines_is_read_as_written() -> None:
    data = '\ufeffname, city \r\nAda,"London, UK"\r\n\r\n,,\r\nBob,"Line one\nline two"\r\n'
    rows = parse_rows(data.encode(), "people.csv")
    assert rows.columns == ["name", "city"]
    assert rows.rows == [
        {"name": "Ada", "city": "London, UK"},
        {"name": "Bob", "city": "Line one\nline two"},
    ]


def test_a_short_csv_line_has_empty_cells_and_a_long_one_is_refused() -> None:
    assert parse_rows(b"a,b\n1\n", "x.csv").rows == [{"a": "1", "b": ""}]
    with pytest.raises(InputRejected, match="Line 3 has 3 cells but the header row names only 2"):
        parse_rows(b"a,b\n1,2\n1,2,3\n", "x.csv")


def test_json_lines_give_the_union_of_keys_and_cells_as_text() -> None:
    data = b'{"q": "Why?", "n": 1}\n\n{"n": 2.5, "tags": ["a", "b"], "ok": true, "x": null}\n'
    for name in ("rows.jsonl", "rows.ndjson", "rows.txt"):
        rows = parse_rows(data, name)
        assert rows.columns == ["q", "n", "tags", "ok", "x"]
        assert rows.rows[1] == {"q": "", "n": "2.5", "tags": '["a", "b"]', "ok": "true", "x": ""}


def test_a_json_string_may_hold_unicode_line_breaks() -> None:
    rows = parse_rows('{"text": "one\u2028two\u0085three"}\n'.encode(), "r.jsonl")
    assert rows.rows == [{"text": "one\u2028two\u0085three"}]


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"", "x.csv", "That file is empty"),
        (b" \n\n", "x.jsonl", "That file is empty"),
        (b"\xef\xbb\xbf", "x.csv", "That file is empty"),
        (b"name,\nAda,1\n", "x.csv", "column 2 has no name"),
        (b"a,a\n1,2\n", "x.csv", "'a' names two columns"),
        (b"1,2.5\n3,4\n", "x.csv", "looks like data"),
        (b"name\n", "x.csv", "no rows to run"),
        (b"name\xff\n1\n", "x.csv", "not UTF-8 text (byte 5"),
        (b'a,b\n"x"y,2\n', "x.csv", "Line 2 of that CSV cannot be read"),
        (b'{"a": 1}\n{"a": }\n', "x.jsonl", "Line 2 is not valid JSON"),
        (b'{"a": 1}\n[1, 2]\n', "x.jsonl", "Line 2 is not a JSON object"),
        (b'{"": 1}\n', "x.jsonl", "Line 1 has a key with no name"),
        (b"q,answer\n1,2\n", "x.csv", "rename the column 'answer'"),
        (b"a\n1\n2\n3\n", "x.csv", "more than 2 rows"),
    ],
)
def test_a_bad_file_is_refused_with_a_sentence_saying_why(
    data: bytes, name: str, words: str
) -> None:
    with pytest.raises(InputRejected, match=words.replace("(", r"\(")):
        parse_rows(data, name, max_rows=2)


COLUMN = st.text("abcdefghij_ ", min_size=1, max_size=8).filter(lambda c: c.strip() == c != "")
HOSTILE = st.text(
    st.one_of(
        st.sampled_from([*",\"\r\n\t=+-@'\\;|", "\u2028", "\ufeff", "\x00", "é", "\u200d", "💻"]),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    max_size=40,
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]], list[tuple[str, str]]]:
    columns = draw(st.lists(COLUMN, min_size=1, max_size=4, unique=True))
    width = len(columns)
    row = st.lists(HOSTILE, min_size=width, max_size=width).filter(
        lambda cells: any(c.strip() for c in cells)
    )
    cells = draw(st.lists(row, min_size=1, max_size=8))
    answers = draw(st.lists(st.tuples(HOSTILE, HOSTILE), min_size=len(cells), max_size=len(cells)))
    return columns, cells, answers


@settings(max_examples=300, deadline=None)
@given(tables())
def test_hostile_cells_survive_the_input_and_results_round_trip(
    table: tuple[list[str], list[list[str]], list[tuple[str, str]]],
) -> None:
    columns, cells, answers = table
    written = io.StringIO(newline="")
    csv.writer(written).writerows([columns, *cells])
    rows = parse_rows(written.getvalue().encode(), "in.csv")
    assert rows == Rows(columns, [dict(zip(columns, line, strict=True)) for line in cells])
    assert unpack_rows(pack_rows(rows)) == rows
    out = results_csv(rows, answers).decode("utf-8")
    header, *lines = list(csv.reader(io.StringIO(out, newline="")))
    assert header == [*columns, "answer", "error"]
    assert [line[: len(columns)] for line in lines] == cells
    for (answer, error), line in zip(answers, lines, strict=True):
        inert = "'" + answer if answer.startswith(FORMULA_START) else answer
        assert line[len(columns) :] == [inert, error]
