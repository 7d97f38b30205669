"""`tests.support.slack.SlackSandbox`'s helpers for the stand-in's switches and records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack_api import RunningSandbox, start_in_thread
from tests.support.slack import TOKEN, SlackSandbox


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    sandbox = start_in_thread()
    yield sandbox
    sandbox.stop()


def error_of(call: object) -> str:
    with pytest.raises(SlackApiError) as info:
        call()  # type: ignore[operator]
    return str(info.value.response["error"])


def test_helpers_switch_limits_and_set_up_permanent_errors(running: RunningSandbox) -> None:
    slack = SlackSandbox(running.url)
    client = WebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])
    slack.reset_with(rate_limits="off")  # how a fixture for tests about something else starts
    for n in range(6):
        client.chat_postMessage(channel="C_GENERAL", text=f"n{n}")
    assert slack.stats()["ratelimited_total"] == 0
    assert slack.configure(rate_limits="documented")["rate_limits"] == "documented"

    slack.archive("C_GENERAL")
    assert error_of(lambda: client.chat_postMessage(channel="C_GENERAL", text="x")) == "is_archived"
    slack.remove_bot("C_APPROVALS")
    assert error_of(lambda: client.chat_postMessage(channel="C_APPROVALS", text="x")) == (
        "not_in_channel"
    )
    slack.delete_channel("C_ONCALL")
    assert error_of(lambda: client.chat_postMessage(channel="C_ONCALL", text="x")) == (
        "channel_not_found"
    )
    written = slack.act("message", user="U_REQUESTER", channel="C_NOBOT", text="<@U_BOT> hi")
    assert written["ok"] and written["deliveries"] == []  # the app is not in #no-bot
    assert slack.deliveries() == [] and slack.streams() == [] and slack.agent_sessions() == []
    slack.reset()
    assert slack.configure()["rate_limits"] == "documented"
