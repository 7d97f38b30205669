"""A streaming job outside the interactive lane shows what the provider is doing as task
cards in its thread (thinking, searching, writing), moves on to a fresh streamed message
before Slack closes one, and ends with its result; where Slack refuses to stream, its
progress is told in lines as before."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.procs import wait_for
from tests.support.slack import BotProcess, job_id_of, thread_texts
from tests.support.stack import Stack

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
STREAMING = {"research": {"stream": True, "progress_every": 0.5}}


def _research(stack: Stack, bot: BotProcess, question: str) -> tuple[str, str]:
    """A /research command on a streaming research kind; its job ID and thread."""
    stack.write_kinds(per_kind=STREAMING)
    stack.start_worker()
    assert bot.command("/research", question).status_code == 200
    wait_for(lambda: bot.slack.cards("C_GENERAL"), 30, "no card")
    card = bot.slack.card("C_GENERAL")
    return job_id_of(card), str(card["ts"])


def _streams(bot: BotProcess, thread_ts: str) -> list[dict[str, Any]]:
    return bot.slack.streams(channel="C_GENERAL", thread_ts=thread_ts)


def _updates(stream: dict[str, Any]) -> list[dict[str, Any]]:
    """Every task_update chunk the stream was sent, in order."""
    chunks = [chunk for call in stream["calls"] for chunk in call.get("chunks") or []]
    return [c for c in chunks if c["type"] == "task_update"]


def _result_posted(bot: BotProcess, job_id: str) -> None:
    wait_for(
        lambda: any(
            f"Result of job {job_id}" in t for t in thread_texts(bot.slack.card("C_GENERAL"))
        ),
        30,
        "no result in the thread",
    )


def _all_stopped(bot: BotProcess, thread_ts: str) -> list[dict[str, Any]]:
    def stopped() -> bool:
        found = _streams(bot, thread_ts)
        return bool(found) and all(s["state"] == "stopped" for s in found)

    wait_for(stopped, 30, "the plan's stream was never stopped")
    return _streams(bot, thread_ts)


@SQLITE
def test_a_streaming_research_job_shows_its_searches_as_task_cards_then_its_result(
    stack: Stack, bot: BotProcess
) -> None:
    job_id, thread_ts = _research(stack, bot, "What is new in tidal power? [sandbox: duration=8]")
    stack.wait_status(job_id, "completed", timeout=40)
    _result_posted(bot, job_id)
    [stream] = _all_stopped(bot, thread_ts)
    assert stream["display_mode"] == "plan"
    searches = [u for u in _updates(stream) if u["title"].startswith("Searching the web for")]
    assert "tidal power" in searches[0]["title"]
    assert searches[0]["status"] == "in_progress", searches
    assert "complete" in [u["status"] for u in searches]
    tasks = {t["title"].split(" for ")[0]: t["status"] for t in stream["tasks"]}
    assert tasks == {
        "Thinking it through": "complete",
        "Searching the web": "complete",
        "Writing the answer": "complete",
    }, stream["tasks"]
    written = [t for t in stream["tasks"] if t["title"] == "Writing the answer"]
    output = stack.show(job_id)["output_text"]
    assert written[0]["output"] == f"{len(output):,} characters"
    texts = thread_texts(bot.slack.card("C_GENERAL"))
    assert not any("characters so far" in t for t in texts), "progress lines beside the plan"


@SQLITE
def test_where_slack_refuses_to_stream_progress_is_told_in_lines_and_the_result_arrives(
    stack: Stack, bot: BotProcess
) -> None:
    bot.slack.configure(streaming="not_authorized")
    job_id, thread_ts = _research(stack, bot, "Tidal power costs [sandbox: duration=6]")
    stack.wait_status(job_id, "completed", timeout=40)
    _result_posted(bot, job_id)
    texts = thread_texts(bot.slack.card("C_GENERAL"))
    assert any("characters so far" in t for t in texts), texts
    assert not any("Writing: 0 characters" in t for t in texts), "a line for steps alone"
    assert _streams(bot, thread_ts) == []
    refused = [c for c in bot.slack.calls("chat.startStream") if not c["ok"]]
    assert refused, "streaming was never tried"


@SQLITE
def test_a_plan_moves_on_to_a_fresh_message_before_slack_closes_its_stream(
    stack: Stack, bot: BotProcess
) -> None:
    bot.slack.configure(stream_max_seconds=4)
    stack.env["ERRAND_SLACK_STREAM_SECONDS"] = "2.5"
    job_id, thread_ts = _research(stack, bot, "Tidal power history [sandbox: duration=12]")
    stack.wait_status(job_id, "completed", timeout=40)
    _result_posted(bot, job_id)
    streams = _all_stopped(bot, thread_ts)
    assert len(streams) >= 2, [s["state"] for s in streams]
    first, last = streams[0], streams[-1]
    assert "Continued in the next message" in first["text"]
    assert first["calls"][0]["chunks"][0]["title"].endswith("what it is doing")
    assert last["calls"][0]["chunks"][0]["title"].endswith(", continued")
    assert [t["status"] for t in last["tasks"]] and all(
        t["status"] == "complete" for t in last["tasks"]
    )
    assert any(t["title"] == "Writing the answer" for t in last["tasks"])


@SQLITE
def test_a_plan_start_slack_never_answers_is_not_started_twice(
    stack: Stack, bot: BotProcess
) -> None:
    """Slack started a plan whose answer never came: the thread may hold it, so no second
    plan starts; progress goes on as lines, and the result arrives."""
    bot.slack.fault(method="chat.startStream", answer_delay=20, count=1)
    job_id, thread_ts = _research(stack, bot, "Tidal barrages [sandbox: duration=40]")
    stack.wait_status(job_id, "completed", timeout=70)
    _result_posted(bot, job_id)
    assert len(bot.slack.calls("chat.startStream")) == 1
    assert len(_streams(bot, thread_ts)) == 1
