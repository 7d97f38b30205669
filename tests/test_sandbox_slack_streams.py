"""Streaming messages and agent sessions in the Slack stand-in, driven by slack_sdk 3.47's
real `WebClient.chat_stream()` helper over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import PlanUpdateChunk, TaskUpdateChunk

from sandbox.slack_api import RunningSandbox, start_in_thread
from tests.support.client import HTTP

TOKEN = "xoxb-sandbox"
TEAM = "T0SANDBOX"


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    sandbox = start_in_thread()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(running: RunningSandbox) -> RunningSandbox:
    running.state.reset()
    return running


@pytest.fixture
def client(sandbox: RunningSandbox) -> WebClient:
    return WebClient(token=TOKEN, base_url=sandbox.api_url, retry_handlers=[])


def control(sandbox: RunningSandbox, path: str) -> Any:
    return HTTP.get(f"{sandbox.url}/_sandbox{path}").json()


def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        call()
    return str(info.value.response["error"])


def thread_reply(sandbox: RunningSandbox, channel: str = "C_GENERAL") -> dict[str, Any]:
    [parent] = control(sandbox, f"/channels/{channel}/messages")["messages"]
    [reply] = parent["replies"]
    return dict(reply)


def ask(client: WebClient) -> str:
    return str(client.chat_postMessage(channel="C_GENERAL", text="question")["ts"])


FEEDBACK = {
    "type": "context_actions",
    "elements": [
        {
            "type": "feedback_buttons",
            "action_id": "answer_feedback",
            "positive_button": {"text": {"type": "plain_text", "text": "👍"}, "value": "good"},
            "negative_button": {"text": {"type": "plain_text", "text": "👎"}, "value": "bad"},
        }
    ],
}


def test_chat_stream_grows_a_thread_reply_and_records_each_call(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    parent = ask(client)
    streamer = client.chat_stream(
        channel="C_GENERAL",
        thread_ts=parent,
        recipient_team_id=TEAM,
        recipient_user_id="U_REQUESTER",
        buffer_size=8,
    )
    streamer.append(markdown_text="Heat pumps ")
    reply = thread_reply(sandbox)
    assert reply["streaming"] == "streaming" and reply["text"] == "Heat pumps "
    streamer.append(chunks=[TaskUpdateChunk(id="t1", title="Searching", status="in_progress")])
    streamer.append(markdown_text="work in frost.")
    metadata = {"event_type": "errand_answer", "event_payload": {"job_id": "J1"}}
    streamer.append(chunks=[TaskUpdateChunk(id="t1", title="Searched", status="complete")])
    done = streamer.stop(blocks=[FEEDBACK], metadata=metadata)
    assert done["message"]["text"] == "Heat pumps work in frost."

    reply = thread_reply(sandbox)
    assert reply["streaming"] == "stopped" and reply["metadata"] == metadata
    kinds = [b["type"] for b in reply["blocks"]]
    assert kinds == ["markdown", "task_card", "markdown", "context_actions"]
    assert reply["blocks"][1]["status"] == "complete" and reply["blocks"][1]["title"] == "Searched"

    [stream] = control(sandbox, f"/streams?thread_ts={parent}")["streams"]
    methods = [c["method"] for c in stream["calls"]]
    assert methods == [
        "chat.startStream",
        "chat.appendStream",
        "chat.appendStream",
        "chat.appendStream",
        "chat.stopStream",
        "stopped",
    ]
    assert stream["calls"][0]["chunks"] == [{"type": "markdown_text", "text": "Heat pumps "}]
    assert stream["recipient_user_id"] == "U_REQUESTER" and stream["state"] == "stopped"
    times = [c["at"] for c in stream["calls"]]
    assert times == sorted(times)
    assert error_of(
        lambda: client.chat_appendStream(channel="C_GENERAL", ts=stream["ts"], markdown_text="x")
    ) == ("message_not_in_streaming_state")


def test_channel_streams_need_a_recipient_but_dms_do_not(client: WebClient) -> None:
    parent = ask(client)
    assert error_of(
        lambda: client.chat_startStream(channel="C_GENERAL", thread_ts=parent, markdown_text="x")
    ) == ("missing_recipient_user_id")
    assert error_of(
        lambda: client.chat_startStream(
            channel="C_GENERAL", thread_ts=parent, recipient_user_id="U_REQUESTER"
        )
    ) == ("missing_recipient_team_id")
    dm = client.conversations_open(users="U_REQUESTER")["channel"]["id"]
    asked = client.chat_postMessage(channel=dm, text="hi")["ts"]
    assert client.chat_startStream(channel=dm, thread_ts=asked, markdown_text="hello")["ok"]


def test_a_stream_not_stopped_in_time_is_closed_and_can_then_be_edited(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    sandbox.state.configure({"stream_max_seconds": 0.5})
    parent = ask(client)
    started = client.chat_startStream(
        channel="C_GENERAL",
        thread_ts=parent,
        recipient_team_id=TEAM,
        recipient_user_id="U_REQUESTER",
        markdown_text="partial",
    )
    assert error_of(
        lambda: client.chat_update(channel="C_GENERAL", ts=started["ts"], text="edit")
    ) == ("streaming_state_conflict")
    time.sleep(0.7)
    assert thread_reply(sandbox)["streaming"] == "expired"  # closed without any call
    for call in (
        lambda: client.chat_appendStream(channel="C_GENERAL", ts=started["ts"], markdown_text="x"),
        lambda: client.chat_stopStream(channel="C_GENERAL", ts=started["ts"]),
    ):
        assert error_of(call) == "message_not_in_streaming_state"
    client.chat_update(channel="C_GENERAL", ts=started["ts"], text="the whole answer")
    reply = thread_reply(sandbox)
    assert reply["text"] == "the whole answer" and reply["streaming"] is None


def test_streaming_can_be_refused_so_clients_fall_back(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    parent = ask(client)
    sandbox.state.configure({"streaming": False})
    streamer = client.chat_stream(
        channel="C_GENERAL", thread_ts=parent, recipient_team_id=TEAM, recipient_user_id="U_OTHER"
    )
    assert error_of(lambda: streamer.append(chunks=[PlanUpdateChunk(title="Plan")])) == (
        "not_authorized"
    )
    sandbox.state.configure({"streaming": "channel_type_not_supported"})
    assert error_of(lambda: client.chat_startStream(channel="C_GENERAL", thread_ts=parent)) == (
        "channel_type_not_supported"
    )


def test_stream_content_is_checked_and_locked_to_its_first_shape(client: WebClient) -> None:
    parent = ask(client)
    started = client.chat_startStream(
        channel="C_GENERAL",
        thread_ts=parent,
        recipient_team_id=TEAM,
        recipient_user_id="U_REQUESTER",
        markdown_text="text mode",
    )
    ts = started["ts"]
    chunk = {"type": "markdown_text", "text": "x"}
    assert error_of(
        lambda: client.chat_appendStream(channel="C_GENERAL", ts=ts, chunks=[chunk])
    ) == ("streaming_mode_mismatch")
    assert error_of(
        lambda: client.chat_appendStream(channel="C_GENERAL", ts=ts, markdown_text="y" * 12_001)
    ) == ("msg_too_long")
    bad_task = {"type": "task_update", "id": "t", "title": "T", "status": "done"}
    assert error_of(
        lambda: client.chat_startStream(
            channel="C_GENERAL",
            thread_ts=parent,
            recipient_team_id=TEAM,
            recipient_user_id="U_REQUESTER",
            chunks=[bad_task],
        )
    ) == ("invalid_chunks")


def test_plan_mode_gathers_task_cards_and_details_accumulate(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    parent = ask(client)
    streamer = client.chat_stream(
        channel="C_GENERAL",
        thread_ts=parent,
        recipient_team_id=TEAM,
        recipient_user_id="U_REQUESTER",
        task_display_mode="plan",
    )
    streamer.append(chunks=[PlanUpdateChunk(title="Researching")])
    for task_id, title in (("a", "Search"), ("b", "Read")):
        streamer.append(
            chunks=[TaskUpdateChunk(id=task_id, title=title, status="in_progress", details="1 ")]
        )
    streamer.append(
        chunks=[TaskUpdateChunk(id="a", title="Search", status="complete", details="2")]
    )
    streamer.stop(markdown_text="Done.")
    blocks = thread_reply(sandbox)["blocks"]
    assert [b["type"] for b in blocks] == ["plan", "markdown"]
    plan = blocks[0]
    assert plan["title"] == "Researching"
    assert [(t["task_id"], t["status"]) for t in plan["tasks"]] == [
        ("a", "complete"),
        ("b", "in_progress"),
    ]
    details = plan["tasks"][0]["details"]["elements"][0]["elements"][0]["text"]
    assert details == "1 2"


# -- agent sessions ----------------------------------------------------------------------


def test_set_status_keeps_each_threads_session_and_stop_stream_moves_it_on(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    parent = ask(client)
    answer = client.agents_sessions_setStatus(
        channel_id="C_GENERAL", thread_ts=parent, status="processing", title="Heat pumps"
    )
    assert (answer["status"], answer["title"]) == ("processing", "Heat pumps")
    assert "warning" not in answer.data
    streamer = client.chat_stream(
        channel="C_GENERAL", thread_ts=parent, recipient_team_id=TEAM, recipient_user_id="U_OTHER"
    )
    streamer.append(markdown_text="answer")
    streamer.stop(session_status="active")
    [session] = control(sandbox, f"/agent_sessions?thread_ts={parent}")["sessions"]
    assert session["status"] == "active" and session["title"] == "Heat pumps"
    assert [(h["status"], h["by"]) for h in session["history"]] == [
        ("processing", "agents.sessions.setStatus"),
        ("active", "chat.stopStream"),
    ]
    assert error_of(
        lambda: client.agents_sessions_setStatus(
            channel_id="C_GENERAL", thread_ts=parent, status="busy"
        )
    ) == ("invalid_arguments")


def test_an_app_that_is_not_an_agent_is_not_authorized(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    parent = ask(client)
    sandbox.state.configure({"bot_events": ["app_mention"]})
    warned = client.agents_sessions_setStatus(
        channel_id="C_GENERAL", thread_ts=parent, status="processing"
    )
    assert warned["warning"] == "missing_agent_session_stopped_event_subscription"
    sandbox.state.configure({"agent": False})
    assert error_of(
        lambda: client.agents_sessions_setStatus(
            channel_id="C_GENERAL", thread_ts=parent, status="closed"
        )
    ) == ("not_authorized")
