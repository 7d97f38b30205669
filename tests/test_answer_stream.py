"""An interactive job's answer stream goes on only while it is exact (bot.answer): a text
that does not begin with what the stream holds (an attempt begun again, which a model
words anew) ends it with a line saying the whole answer follows; nothing is spliced.
Real Redis and the Slack stand-in; the milestones are those a worker hands the bot."""

from __future__ import annotations

from typing import Any

import pytest

from bot.answer import CUT_SHORT, AnswerStream
from bot.blocks.streaming import settled
from bot.budget import Budget
from bot.slack import make_client
from models.base import utcnow
from models.job import Job
from models.notifier import Milestone
from models.store.submission import submit
from tests.support.slack import TOKEN, SlackSandbox
from tests.support.stack import Stack

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

FIRST = "The tides rise and fall twice a day, pulled by the Moon. The Sun adds a little."
AGAIN = "Gravity from the Moon and the Sun raises two bulges of water that the Earth turns under."


def _stream_and_job(stack: Stack, slack: SlackSandbox) -> tuple[AnswerStream, Job]:
    client = make_client(TOKEN, slack.api_url, patient=False)
    job = submit(stack.db, stack.kinds, "ask", "How do tides work?", user="U_REQUESTER")
    job.channel_id, job.team_id = "C_GENERAL", "T0SANDBOX"
    job.thread_ts = str(client.chat_postMessage(channel="C_GENERAL", text="Ask job")["ts"])
    answers = AnswerStream(
        client, Budget(stack.parts.redis), streams_for=lambda _job: None, clock=utcnow
    )
    return answers, job


def _milestone(job: Job, name: str, **detail: Any) -> Milestone:
    return Milestone(notice_id=0, name=name, detail=detail, job=job, due_at=utcnow())


def _stream(slack: SlackSandbox, job: Job) -> dict[str, Any]:
    [stream] = slack.streams(channel="C_GENERAL", thread_ts=str(job.thread_ts))
    return stream


def test_an_answer_begun_again_ends_the_stream_and_is_never_spliced(
    stack: Stack, slack: SlackSandbox
) -> None:
    answers, job = _stream_and_job(stack, slack)
    answers.progress(_milestone(job, "progress", text=FIRST[:40]))
    answers.progress(_milestone(job, "progress", text=AGAIN[:60]))
    answers.progress(_milestone(job, "progress", text=AGAIN))
    stream = _stream(slack, job)
    assert stream["state"] == "stopped"
    assert stream["text"] == settled(FIRST[:40]) + CUT_SHORT
    job.output_text = AGAIN
    assert answers.finish(_milestone(job, "completed")) is False  # the result is posted whole


def test_a_finished_answer_that_does_not_continue_the_stream_is_posted_whole(
    stack: Stack, slack: SlackSandbox
) -> None:
    answers, job = _stream_and_job(stack, slack)
    answers.progress(_milestone(job, "progress", text=FIRST[:40]))
    job.output_text = AGAIN
    assert answers.finish(_milestone(job, "completed")) is False
    assert _stream(slack, job)["text"] == settled(FIRST[:40]) + CUT_SHORT


def test_a_finished_answer_that_continues_the_stream_ends_it_whole(
    stack: Stack, slack: SlackSandbox
) -> None:
    answers, job = _stream_and_job(stack, slack)
    answers.progress(_milestone(job, "progress", text=FIRST[:40]))
    job.output_text = FIRST
    assert answers.finish(_milestone(job, "completed")) is True
    assert _stream(slack, job)["text"] == FIRST
