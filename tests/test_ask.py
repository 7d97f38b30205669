"""/ask: the interactive lane. A short answer streams into the job's thread as the
provider writes it (chat.startStream, appendStream, stopStream), and the job is recorded
like any other. (Where Slack refuses or ends a stream: tests/test_ask_fallback.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from bot.blocks.text import escape
from tests.support.procs import wait_for
from tests.support.slack import BotProcess, job_id_of, thread_texts
from tests.support.stack import Stack

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _ask(bot: BotProcess, question: str) -> str:
    """An /ask command; the new job's ID once its card is posted."""
    assert bot.command("/ask", question).status_code == 200
    wait_for(lambda: bot.slack.cards("C_GENERAL"), 30, "no card")
    return job_id_of(bot.slack.card("C_GENERAL"))


def _stopped_stream(bot: BotProcess, thread_ts: str) -> dict[str, Any]:
    def stopped() -> list[dict[str, Any]]:
        found = bot.slack.streams(channel="C_GENERAL", thread_ts=thread_ts)
        return [s for s in found if s["state"] == "stopped"]

    wait_for(stopped, 30, "the answer's stream was never stopped")
    [stream] = stopped()
    return stream


@SQLITE
def test_ask_streams_its_answer_into_the_thread_and_completes(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    job_id = _ask(bot, "Why is the sky blue? [sandbox: duration=6]")
    stack.wait_status(job_id, "completed", timeout=40)
    shown = stack.show(job_id)
    assert shown["kind"] == "ask" and shown["lane"] == "interactive"
    assert shown["model"] == "gpt-5-mini" and shown["cost_usd"] > 0
    stream = _stopped_stream(bot, shown["thread_ts"])
    methods = [c["method"] for c in stream["calls"]]
    assert methods[0] == "chat.startStream" and methods[-2:] == ["chat.stopStream", "stopped"]
    assert methods.count("chat.appendStream") > 1, methods
    assert stream["text"] == escape(shown["output_text"])
    assert stream["recipient_user_id"] == "U_REQUESTER"
    card = bot.slack.card("C_GENERAL")
    [answer] = [r for r in card["replies"] if r["ts"] == stream["ts"]]
    [feedback] = [b for b in answer["blocks"] if b["type"] == "context_actions"]
    assert feedback["elements"][0]["type"] == "feedback_buttons"  # 👍/👎 under the answer
    assert not any(f"Result of job {job_id}" in r for r in thread_texts(card))


@SQLITE
def test_ask_past_its_interactive_time_carries_on_and_posts_its_result(
    stack: Stack, bot: BotProcess
) -> None:
    stack.write_kinds(interactive_seconds=6)
    stack.start_worker()
    job_id = _ask(bot, "Explain tides at length [sandbox: duration=14]")
    stream = _stopped_stream(bot, bot.slack.card("C_GENERAL")["ts"])
    assert "carries on in the background" in stream["text"]
    assert stack.status(job_id) == "running"
    stack.wait_status(job_id, "completed", timeout=40)
    wait_for(
        lambda: any(
            f"Result of job {job_id}" in r for r in thread_texts(bot.slack.card("C_GENERAL"))
        ),
        30,
        "no result in the thread",
    )
    [again] = bot.slack.streams(channel="C_GENERAL")
    assert again["calls"] == stream["calls"]
