"""Reactions on messages in the Slack stand-in, through the real slack_sdk WebClient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack_api import RunningSandbox, start_in_thread
from tests.support.client import HTTP

TOKEN = "xoxb-sandbox"


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    sandbox = start_in_thread()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def client(running: RunningSandbox) -> WebClient:
    running.state.reset()
    return WebClient(token=TOKEN, base_url=running.api_url, retry_handlers=[])


def error_of(call: object) -> str:
    with pytest.raises(SlackApiError) as info:
        call()  # type: ignore[operator]
    return str(info.value.response["error"])


def test_reactions_are_stored_on_the_message_and_shown_in_state(
    running: RunningSandbox, client: WebClient
) -> None:
    ts = client.chat_postMessage(channel="C_GENERAL", text="working on it")["ts"]
    client.reactions_add(channel="C_GENERAL", timestamp=ts, name="eyes")
    client.reactions_add(channel="C_GENERAL", timestamp=ts, name=":white_check_mark:")
    got = client.reactions_get(channel="C_GENERAL", timestamp=ts)
    assert got["type"] == "message" and got["channel"] == "C_GENERAL"
    assert got["message"]["reactions"] == [
        {"name": "eyes", "users": ["U_BOT"], "count": 1},
        {"name": "white_check_mark", "users": ["U_BOT"], "count": 1},
    ]
    client.reactions_remove(channel="C_GENERAL", timestamp=ts, name="eyes")
    state = HTTP.get(f"{running.url}/_sandbox/channels/C_GENERAL/messages").json()
    assert [r["name"] for r in state["messages"][0]["reactions"]] == ["white_check_mark"]


def test_reaction_errors_are_slacks(running: RunningSandbox, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C_GENERAL", text="x")["ts"]
    client.reactions_add(channel="C_GENERAL", timestamp=ts, name="eyes")
    assert error_of(
        lambda: client.reactions_add(channel="C_GENERAL", timestamp=ts, name="eyes")
    ) == ("already_reacted")
    assert error_of(
        lambda: client.reactions_remove(channel="C_GENERAL", timestamp=ts, name="x")
    ) == ("no_reaction")
    assert error_of(
        lambda: client.reactions_add(channel="C_GENERAL", timestamp=ts, name="not an emoji")
    ) == ("invalid_name")
    assert error_of(
        lambda: client.reactions_add(channel="C_GENERAL", timestamp="1.000001", name="eyes")
    ) == ("message_not_found")
    running.state.configure({"rate_limits": "off"})  # 24 reactions in a row
    for n in range(22):
        client.reactions_add(channel="C_GENERAL", timestamp=ts, name=f"emoji_{n}")
    assert error_of(
        lambda: client.reactions_add(channel="C_GENERAL", timestamp=ts, name="one_more")
    ) == ("too_many_emoji")
