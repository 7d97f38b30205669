"""/ask when streaming does not simply work: Slack refuses to stream (one message, edited as
the answer grows), Slack closes the stream before the answer ends (the same message is
edited on), and the worker restarts mid-answer (the same stream carries on). Each time the
thread holds the answer once, whole, pinging nobody."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from bot.answer import CUT_SHORT
from bot.blocks.streaming import whole
from bot.blocks.text import mrkdwn
from models.job import Notice
from tests.support.procs import wait_for
from tests.support.slack import BotProcess, job_id_of, thread_texts
from tests.support.stack import Stack
from tests.test_blocks_kit import pings

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _ask(bot: BotProcess, question: str) -> tuple[str, str]:
    """An /ask command; the new job's ID and thread once its card is posted."""
    assert bot.command("/ask", question).status_code == 200
    wait_for(lambda: bot.slack.cards("C_GENERAL"), 30, "no card")
    card = bot.slack.card("C_GENERAL")
    return job_id_of(card), str(card["ts"])


def _replies(bot: BotProcess) -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = bot.slack.card("C_GENERAL").get("replies") or []
    return replies


def _answer_message(bot: BotProcess, text: str) -> dict[str, Any]:
    """The one thread reply holding the answer, once it holds `text`."""
    wait_for(lambda: [r for r in _replies(bot) if r.get("text") == text], 30, "answer never whole")
    [answer] = [r for r in _replies(bot) if text[:40] in str(r.get("text"))]
    return answer


def _no_result_posted(bot: BotProcess, job_id: str) -> None:
    texts = thread_texts(bot.slack.card("C_GENERAL"))
    assert not any(f"Result of job {job_id}" in t for t in texts), texts


def _streams(bot: BotProcess, thread_ts: str) -> list[dict[str, Any]]:
    return bot.slack.streams(channel="C_GENERAL", thread_ts=thread_ts)


@SQLITE
@pytest.mark.parametrize("refusal", ["not_authorized", "method_not_supported"])
def test_where_streaming_is_refused_one_message_is_edited_as_the_answer_grows(
    stack: Stack, bot: BotProcess, refusal: str
) -> None:
    bot.slack.configure(streaming=refusal)
    stack.start_worker()
    job_id, thread_ts = _ask(bot, "Why is the sea salty @here? [sandbox: duration=10]")
    stack.wait_status(job_id, "completed", timeout=40)
    output = stack.show(job_id)["output_text"]
    answer = _answer_message(bot, mrkdwn(output))
    assert not pings(answer["text"])
    posts = [c for c in bot.slack.calls("chat.postMessage") if c["args"].get("thread_ts")]
    assert [c["args"]["text"] for c in posts if c["ok"] and "sea salty" in c["args"]["text"]]
    edits = [c for c in bot.slack.calls("chat.update") if c["args"].get("ts") == answer["ts"]]
    assert len(edits) >= 2, "edited only once, at the end"
    assert _streams(bot, thread_ts) == []
    _no_result_posted(bot, job_id)


@SQLITE
def test_streamed_text_breaks_channel_pings_however_the_deltas_split_it(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    question = "Why does @channel ping <!here> & @everyone at once? [sandbox: duration=6]"
    job_id, thread_ts = _ask(bot, question)
    stack.wait_status(job_id, "completed", timeout=40)
    output = stack.show(job_id)["output_text"]
    assert "@channel" in output and "@everyone" in output
    wait_for(lambda: _streams(bot, thread_ts)[0]["state"] == "stopped", 30, "never stopped")
    [stream] = _streams(bot, thread_ts)
    assert stream["text"] == whole(output)
    assert not pings(stream["text"])
    assert not any(pings(c.get("markdown_text") or "") for c in stream["calls"])


@SQLITE
def test_a_stream_slack_closed_before_the_end_goes_on_as_edits_of_the_same_message(
    stack: Stack, bot: BotProcess
) -> None:
    bot.slack.configure(stream_max_seconds=4)
    stack.start_worker()
    job_id, thread_ts = _ask(bot, "Explain the seasons [sandbox: duration=14]")
    stack.wait_status(job_id, "completed", timeout=40)
    output = stack.show(job_id)["output_text"]
    answer = _answer_message(bot, mrkdwn(output))
    [stream] = _streams(bot, thread_ts)
    assert stream["state"] == "expired" and stream["ts"] == answer["ts"]
    _no_result_posted(bot, job_id)


@SQLITE
def test_a_worker_restarted_mid_answer_carries_on_the_same_stream(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    job_id, thread_ts = _ask(bot, "Explain ocean currents [sandbox: duration=40]")

    def appended() -> bool:
        found = _streams(bot, thread_ts)
        return bool(found) and any(c["method"] == "chat.appendStream" for c in found[0]["calls"])

    wait_for(appended, 30, "the answer never started showing")
    stack.stop_workers(kill=True)
    known = _text_known_before(stack, job_id)
    shown_before = len(_streams(bot, thread_ts)[0]["calls"])
    stack.start_worker()
    stack.wait_status(job_id, "completed", timeout=90)
    output = stack.show(job_id)["output_text"]
    wait_for(lambda: _streams(bot, thread_ts)[0]["state"] == "stopped", 30, "never stopped")
    [stream] = _streams(bot, thread_ts)
    assert stream["text"] == whole(output)
    growing = ("chat.startStream", "chat.appendStream")
    later = [c for c in stream["calls"][shown_before:] if c["method"] in growing]
    before_stop = "".join(c["markdown_text"] for c in stream["calls"] if c["method"] in growing)
    assert later, "nothing shown after the restart until the end"
    assert len(before_stop) > len(whole(known)), "only what the old worker had read was shown"
    _no_result_posted(bot, job_id)


def _text_known_before(stack: Stack, job_id: str) -> str:
    """The most text any progress notice written before now carried."""
    with stack.db.unit() as unit:
        details = unit.session.scalars(
            select(Notice.detail).where(Notice.job_id == job_id, Notice.milestone == "progress")
        ).all()
    return max((str((d or {}).get("text", "")) for d in details), key=len, default="")


@SQLITE
def test_an_append_slack_never_answers_ends_the_stream_and_the_result_is_posted_whole(
    stack: Stack, bot: BotProcess
) -> None:
    """Slack carried out an append whose answer never came (the client gave up after 15 s):
    whether the stream holds that piece is unknown, so nothing more is appended to it. It
    ends with a line saying the whole answer follows, and the result is posted whole."""
    bot.slack.fault(method="chat.appendStream", answer_delay=20, count=1, after=1)
    stack.start_worker()
    job_id, thread_ts = _ask(bot, "Explain the tides [sandbox: duration=20]")
    stack.wait_status(job_id, "completed", timeout=60)
    output = stack.show(job_id)["output_text"]
    wait_for(lambda: _results(bot, job_id), 60, "no result posted")
    [stream] = _streams(bot, thread_ts)
    assert stream["state"] == "stopped" and stream["text"].endswith(CUT_SHORT)
    assert whole(output).startswith(stream["text"].removesuffix(CUT_SHORT))  # nothing twice
    [result] = _results(bot, job_id)
    last_source = re.findall(r"\[([^]]+)\]\(", output)[-1]
    assert last_source in result  # the answer's very end


def _results(bot: BotProcess, job_id: str) -> list[str]:
    return [t for t in thread_texts(bot.slack.card("C_GENERAL")) if f"Result of job {job_id}" in t]


@SQLITE
def test_a_stream_start_slack_never_answers_is_not_started_twice(
    stack: Stack, bot: BotProcess
) -> None:
    """Slack started a stream whose answer never came: the thread may hold it, so no
    second one starts; the result is posted whole once done."""
    bot.slack.fault(method="chat.startStream", answer_delay=20, count=1)
    stack.start_worker()
    job_id, thread_ts = _ask(bot, "Explain the monsoon [sandbox: duration=40]")
    stack.wait_status(job_id, "completed", timeout=60)
    wait_for(lambda: _results(bot, job_id), 60, "no result posted")
    assert len(_streams(bot, thread_ts)) == 1
    assert len(bot.slack.calls("chat.startStream")) == 1
    assert len(_results(bot, job_id)) == 1
