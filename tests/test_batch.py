"""The batch lane: a file of rows run on the provider's Batch API, its results file posted
in the job's thread with the rows done and failed and the cost at batch prices; a cancel
delivers the rows that ran; a bad file is refused with no job."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import openai
import pytest

from models.batch import TIER
from tests.support.client import HTTP
from tests.support.procs import wait_for
from tests.support.slack import TOKEN, BotProcess, card_text, thread_texts
from tests.support.stack import Stack
from tests.support.webhooks import wire

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
CHANNEL = "C_GENERAL"
QUICK = {"batch_validate_seconds": 0.5, "batch_rows_per_second": 60, "batch_finalize_seconds": 0.5}


def rows_file(tmp_path: Path, count: int) -> Path:
    """A CSV of `count` rows whose cells a spreadsheet and a careless writer would trip on."""
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "question"])
        for n in range(1, count + 1):
            writer.writerow([f'Person {n}, "the {n}th"', f"What is {n} squared?\nShow it."])
    return path


def submit(stack: Stack, path: Path, instructions: str = "Answer the question.") -> str:
    made = stack.cli(
        "jobs", "submit", "batch", instructions, "--file", str(path), "--channel", CHANNEL
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def results(bot: BotProcess, job_id: str) -> tuple[str, list[dict[str, str]]]:
    """The results file posted in the job's thread: the message with it, and its rows."""

    def posted() -> list[dict[str, Any]]:
        card = bot.slack.card(CHANNEL)
        return [r for r in card.get("replies") or [] if r.get("files")]

    wait_for(posted, 30, f"no results file in job {job_id}'s thread")
    [message] = posted()
    [file] = message["files"]
    assert file["name"] == f"errand-{job_id}-results.csv"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    content = HTTP.get(file["url_private_download"], headers=auth, timeout=10).text
    return str(message.get("text") or ""), list(csv.DictReader(io.StringIO(content)))


def batches_of(stack: Stack, job_id: str) -> list[Any]:
    client = openai.OpenAI(api_key="sk-sandbox", base_url=stack.openai.base_url)
    return [b for b in client.batches.list(limit=100) if (b.metadata or {}).get("job_id") == job_id]


def test_a_csv_of_200_rows_gets_its_results_file_in_the_thread(
    stack: Stack, bot: BotProcess, tmp_path: Path
) -> None:
    stack.openai.configure(**QUICK)
    stack.start_worker()
    job_id = submit(stack, rows_file(tmp_path, 200))
    assert stack.wait_status(job_id, "completed", timeout=60) == "completed"
    comment, lines = results(bot, job_id)
    assert len(lines) == 200
    assert list(lines[0]) == ["name", "question", "answer", "error"]
    assert [line["name"] for line in lines] == [f'Person {n}, "the {n}th"' for n in range(1, 201)]
    assert all(line["answer"].strip() and not line["error"] for line in lines)
    shown = stack.show(job_id)
    assert (shown["lane"], shown["service_tier"]) == ("batch", TIER)
    full = stack.kinds.cost(shown["model"], shown["usage"])
    assert full and shown["cost_usd"] == pytest.approx(full / 2, abs=1e-6)
    assert shown["provider_creates"] == 1 and len(batches_of(stack, job_id)) == 1
    assert f"200 rows: 200 done, 0 failed · ${shown['cost_usd']:,.4f} at batch prices" in comment
    assert shown["output_text"] in comment
    card = card_text(bot.slack.card(CHANNEL))
    assert "200 of 200 rows done" in card and "Completed" in card


@SQLITE
def test_a_cancelled_batch_delivers_the_rows_it_had(
    stack: Stack, bot: BotProcess, tmp_path: Path
) -> None:
    stack.openai.configure(**{**QUICK, "batch_rows_per_second": 4})
    stack.start_worker()
    job_id = submit(stack, rows_file(tmp_path, 120))

    def rows_done() -> int:
        counts = (stack.show(job_id)["output"] or {}).get("counts") or {}
        return int(counts.get("completed") or 0)

    wait_for(lambda: rows_done() >= 4, 40, "no rows done")
    wait_for(lambda: "of 120 rows done" in card_text(bot.slack.card(CHANNEL)), 20, "no progress")
    cancel = stack.cli("jobs", "cancel", job_id)
    assert cancel.returncode == 0, cancel.stderr
    assert stack.wait_status(job_id, "canceled", timeout=30) == "canceled"
    comment, lines = results(bot, job_id)
    answered = [line for line in lines if line["answer"]]
    unrun = [line for line in lines if line["error"].startswith("not run")]
    assert len(lines) == 120 and 4 <= len(answered) < 120
    assert len(answered) + len(unrun) == 120
    assert lines[: len(answered)] == answered  # rows run in order: the first ones ran
    shown = stack.show(job_id)
    assert shown["cost_usd"] > 0 and len(batches_of(stack, job_id)) == 1
    assert f"Cancelled. 120 rows: {len(answered)} done, 0 failed, {len(unrun)} not run" in comment
    assert any("Canceled" in text for text in [card_text(bot.slack.card(CHANNEL))])
    assert not any("The job failed" in text for text in thread_texts(bot.slack.card(CHANNEL)))


BAD_FILES = [
    ("empty.csv", b"", "That file is empty"),
    ("noheader.csv", b"1,2\n3,4\n", "looks like data"),
    ("dupes.csv", b"name,name\na,b\n", "'name' names two columns"),
    ("latin1.csv", "name\nJosé\n".encode("latin-1"), "not UTF-8"),
    ("rows.jsonl", b'{"a": 1}\n{"a": 2,}\n', "Line 2 is not valid JSON"),
    ("big.csv", b"n\n" + b"1\n" * 50_001, "more than 50,000 rows"),
]


@SQLITE
def test_bad_files_are_refused_by_the_cli_with_no_job(stack: Stack, tmp_path: Path) -> None:
    for name, data, words in BAD_FILES:
        path = tmp_path / name
        path.write_bytes(data)
        made = stack.cli("jobs", "submit", "batch", "Answer.", "--file", str(path))
        assert made.returncode == 2, (name, made.stdout, made.stderr)
        assert words in made.stderr and "Traceback" not in made.stderr, made.stderr
    assert stack.cli("jobs", "list", "--json").stdout.strip() == "[]"


@SQLITE
def test_a_batch_create_that_went_unanswered_is_adopted_not_made_twice(
    stack: Stack, bot: BotProcess, tmp_path: Path
) -> None:
    """The provider makes the batch but its answer is lost (a 500 after the work): the
    attempt's next claim finds the batch by its metadata and follows it."""
    stack.env["ERRAND_CREATE_UNKNOWN_WAIT"] = "1"
    stack.openai.configure(**QUICK)
    stack.openai.fault(endpoint="batches.create", status=500, made=True)
    stack.start_worker()
    job_id = submit(stack, rows_file(tmp_path, 30))
    assert stack.wait_status(job_id, "completed", timeout=40) == "completed"
    shown = stack.show(job_id)
    assert len(batches_of(stack, job_id)) == 1
    assert len(stack.openai.requests(endpoint="batches.create")) == 1
    assert shown["provider_creates"] == 1
    assert "start_unanswered" in [e["action"] for e in shown["events"]]
    _, lines = results(bot, job_id)
    assert len(lines) == 30 and all(line["answer"] for line in lines)


@SQLITE
def test_with_webhooks_a_batch_ends_when_the_provider_says_so(
    hooked: Stack, bot: BotProcess, tmp_path: Path
) -> None:
    """With webhooks the poll is a slow safety net (30 s first); `batch.completed` ends the
    job long before it, and rows that failed at the provider say so in the file."""
    wire(hooked, bot)
    hooked.openai.configure(**QUICK, batch_row_failure_rate=0.3)
    hooked.start_worker()
    job_id = submit(hooked, rows_file(tmp_path, 40))
    assert hooked.wait_status(job_id, "completed", timeout=25) == "completed"
    comment, lines = results(bot, job_id)
    failed = [line for line in lines if line["error"]]
    assert 1 <= len(failed) < 40 and not any(line["answer"] for line in failed)
    assert {line["error"] for line in failed} == {
        "the AI provider could not run this row (server_error)"
    }
    assert f"40 rows: {40 - len(failed)} done, {len(failed)} failed" in comment


@SQLITE
def test_a_batch_past_the_providers_window_delivers_what_ran(
    stack: Stack, bot: BotProcess, tmp_path: Path
) -> None:
    stack.openai.configure(**{**QUICK, "batch_rows_per_second": 10, "batch_expire_seconds": 3})
    stack.start_worker()
    job_id = submit(stack, rows_file(tmp_path, 100))
    assert stack.wait_status(job_id, "expired", timeout=30) == "expired"
    comment, lines = results(bot, job_id)
    ran = [line for line in lines if line["answer"]]
    assert 0 < len(ran) < 100 and "Out of time. 100 rows:" in comment
    assert "24-hour window" in comment
