"""A batch job is stored with its rows, in the same transaction as the job, on both backends;
a repeated key returns the first job and stores nothing more."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models.errors import InputRejected
from models.job import Job
from models.job_file import JobFile
from models.rows import parse_rows, unpack_rows
from models.store.budget import estimate
from models.store.claim import LaunchRules, claim_launches
from models.store.submission import submit, submit_batch
from tests.support.stack import Stack

ROWS = parse_rows(b"name,city\nAda,London\nBob,Paris\n", "people.csv")


def test_a_batch_job_is_stored_with_its_rows(stack: Stack) -> None:
    job = submit_batch(
        stack.db, stack.kinds, "batch", " Say hello. ", ROWS, user="U1", filename="people.csv"
    )
    with stack.db.unit() as unit:
        stored = unit.session.get(Job, job.id)
        [file] = unit.session.scalars(select(JobFile).where(JobFile.job_id == job.id))
    assert stored is not None
    assert (stored.lane, stored.input_text, stored.model) == ("batch", "Say hello.", "gpt-5-mini")
    assert (file.name, file.filename, file.row_count) == ("rows", "people.csv", 2)
    assert file.data is not None and unpack_rows(file.data) == ROWS


def test_a_repeated_key_returns_the_first_batch_job(stack: Stack) -> None:
    first = submit_batch(stack.db, stack.kinds, "batch", "x", ROWS, user="U1", idempotency_key="k")
    again = submit_batch(stack.db, stack.kinds, "batch", "x", ROWS, user="U1", idempotency_key="k")
    assert again.id == first.id
    with stack.db.unit() as unit:
        assert len(unit.session.scalars(select(JobFile)).all()) == 1


def test_instructions_and_rows_are_checked_before_anything_is_stored(stack: Stack) -> None:
    long_row = parse_rows(b"text\n" + b"x" * 9000 + b"\n", "long.csv")
    refusals = [
        (lambda: submit_batch(stack.db, stack.kinds, "batch", "  ", ROWS, user="U1"), "empty"),
        (lambda: submit_batch(stack.db, stack.kinds, "batch", "x", long_row, user="U1"), "Row 1"),
        (lambda: submit_batch(stack.db, stack.kinds, "research", "x", ROWS, user="U1"), "no file"),
        (lambda: submit(stack.db, stack.kinds, "batch", "x", user="U1"), "file of rows"),
    ]
    for call, words in refusals:
        with pytest.raises(InputRejected, match=words):
            call()
    with stack.db.unit() as unit:
        assert unit.session.scalars(select(Job)).all() == []


def test_a_batch_is_estimated_row_by_row_and_held_over_the_budget(stack: Stack) -> None:
    """One row's estimate is far under the budget; two hundred rows' is not."""
    rules = LaunchRules(lease=timedelta(seconds=60), unknown_wait=timedelta(0), budget_usd=0.05)
    one = parse_rows(b"q\nWhy?\n", "one.csv")
    many = parse_rows(b"q\n" + b"Why?\n" * 200, "many.csv")
    small = submit_batch(stack.db, stack.kinds, "batch", "Answer.", one, user="U1")
    big = submit_batch(stack.db, stack.kinds, "batch", "Answer.", many, user="U2")
    claimed = claim_launches(stack.db, stack.kinds, rules, limit=5)
    assert [launch.job_id for launch in claimed] == [small.id]
    with stack.db.unit() as unit:
        held = unit.session.get(Job, big.id)
        assert held is not None and held.status == "awaiting_approval"
        single = estimate(stack.kinds, small)
        assert single is not None and estimate(stack.kinds, held) == pytest.approx(
            200 * single, rel=0.01
        )
        full = stack.kinds.estimate(stack.kinds.get("batch"), "gpt-5-mini", 0)
        assert full is not None and single < full  # at batch prices
