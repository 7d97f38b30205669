"""The Slack stand-in's documented rate limits, settings and permanent errors, driven by
the real slack_sdk WebClient over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from sandbox.slack_api import RunningSandbox, start_in_thread
from tests.support.client import HTTP

TOKEN = "xoxb-sandbox"


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


def control(sandbox: RunningSandbox, path: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{sandbox.url}/_sandbox{path}"
    response = HTTP.post(url, json=body) if body is not None else HTTP.get(url)
    assert response.status_code < 500, response.text
    return response.json()


def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value


# -- rate limits ------------------------------------------------------------------------


def test_post_message_is_limited_per_channel_with_a_short_burst(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    for n in range(3):
        client.chat_postMessage(channel="C_GENERAL", text=f"burst {n}")
    error = slack_error(lambda: client.chat_postMessage(channel="C_GENERAL", text="one too many"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "1"
    assert error.response.data == {"ok": False, "error": "ratelimited"}
    assert client.chat_postMessage(channel="C_APPROVALS", text="another channel")["ok"]
    time.sleep(1.05)
    assert client.chat_postMessage(channel="#general", text="a second later")["ok"]

    stats = control(sandbox, "/stats")
    assert stats["ratelimited"] == {"chat.postMessage": 1} and stats["ratelimited_total"] == 1
    assert stats["calls"]["chat.postMessage"] == 6
    texts = [m["text"] for m in control(sandbox, "/channels/C_GENERAL/messages")["messages"]]
    assert "one too many" not in texts and "a second later" in texts


def test_a_tier_2_method_allows_a_burst_then_one_call_every_three_seconds(
    client: WebClient,
) -> None:
    for _ in range(10):
        client.usergroups_users_list(usergroup="S_APPROVERS")
    error = slack_error(lambda: client.usergroups_users_list(usergroup="S_APPROVERS"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "3"  # 20 a minute: one every 3 s
    assert client.users_info(user="U_REQUESTER")["ok"]  # each method has its own budget


def test_failed_calls_spend_the_budget_too(client: WebClient) -> None:
    for _ in range(10):
        slack_error(lambda: client.usergroups_users_list(usergroup="S_NOPE"))
    error = slack_error(lambda: client.usergroups_users_list(usergroup="S_APPROVERS"))
    assert error.response["error"] == "ratelimited"


def test_slack_sdk_retry_handler_waits_out_a_real_429(sandbox: RunningSandbox) -> None:
    patient = WebClient(
        token=TOKEN, base_url=sandbox.api_url, retry_handlers=[RateLimitErrorRetryHandler()]
    )
    for n in range(4):
        assert patient.chat_postMessage(channel="C_GENERAL", text=f"n{n}")["ok"]
    calls = control(sandbox, "/calls?method=chat.postMessage")["calls"]
    assert [c["status"] for c in calls] == [200, 200, 200, 429, 200]


def test_settings_switch_limits_off_scale_them_and_reset_restores_them(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    assert control(sandbox, "/settings")["settings"]["rate_limits"] == "documented"
    control(sandbox, "/settings", {"rate_limits": "off"})
    for n in range(12):
        client.chat_postMessage(channel="C_GENERAL", text=f"unlimited {n}")
    assert control(sandbox, "/stats")["ratelimited_total"] == 0

    control(sandbox, "/settings", {"rate_limits": 2})
    for _ in range(20):
        client.usergroups_users_list(usergroup="S_ONCALL")
    error = slack_error(lambda: client.usergroups_users_list(usergroup="S_ONCALL"))
    assert error.response["error"] == "ratelimited"

    control(sandbox, "/reset", {})
    assert control(sandbox, "/settings")["settings"]["rate_limits"] == "documented"
    control(sandbox, "/reset", {"settings": {"rate_limits": "off"}})
    assert control(sandbox, "/settings")["settings"]["rate_limits"] == "off"
    bad = HTTP.post(f"{sandbox.url}/_sandbox/settings", json={"rate_limits": "lots"})
    assert bad.status_code == 400 and "rate_limits" in bad.json()["error"]


def test_the_limits_table_names_each_methods_budget(sandbox: RunningSandbox) -> None:
    table = control(sandbox, "/limits")["methods"]
    assert table["chat.postMessage"]["scope"] == "per channel"
    assert table["chat.update"]["tier"] == "tier3"
    assert table["chat.getPermalink"]["tier"] == "tier4"
    assert table["conversations.open"]["tier"] == "tier3"
    assert table["usergroups.users.list"]["tier"] == "tier2"
    assert table["views.open"]["tier"] == table["views.publish"]["tier"] == "tier4"
    assert table["reactions.add"]["tier"] == "tier3"
    assert (table["chat.startStream"]["tier"], table["chat.appendStream"]["tier"]) == (
        "tier2",
        "tier4",
    )
    assert table["conversations.replies"]["per_minute"] == 1
    control(sandbox, "/settings", {"distribution": "internal"})
    assert control(sandbox, "/limits")["methods"]["conversations.replies"]["tier"] == "tier3"
    control(sandbox, "/settings", {"rate_limits": "off"})
    assert control(sandbox, "/limits")["methods"]["chat.update"] is None


def test_rate_limits_can_be_switched_off_at_start() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.slack_api", "--port", "0", "--rate-limits", "off"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split(" on ", 1)[1].split(" ", 1)[0]
        assert HTTP.get(f"{url}/_sandbox/settings").json()["settings"]["rate_limits"] == "off"
        HTTP.post(f"{url}/_sandbox/reset", json={})
        assert HTTP.get(f"{url}/_sandbox/settings").json()["settings"]["rate_limits"] == "off"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


# -- conversations.history and .replies ------------------------------------------------


def _thread_of(client: WebClient, replies: int) -> str:
    parent = client.chat_postMessage(channel="C_GENERAL", text="parent")["ts"]
    for n in range(replies):
        client.chat_postMessage(channel="C_GENERAL", thread_ts=parent, text=f"reply {n}")
    return str(parent)


def test_non_marketplace_apps_get_one_replies_call_a_minute_and_15_messages(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    sandbox.state.configure({"rate_limits": "off"})
    parent = _thread_of(client, 20)
    sandbox.state.configure({"rate_limits": "documented"})
    page = client.conversations_replies(channel="C_GENERAL", ts=parent, limit=200)
    assert len(page["messages"]) == 15 and page["has_more"]
    assert page["messages"][0]["ts"] == parent
    assert [m["text"] for m in page["messages"][1:3]] == ["reply 0", "reply 1"]
    error = slack_error(
        lambda: client.conversations_replies(
            channel="C_GENERAL", ts=parent, cursor=page["response_metadata"]["next_cursor"]
        )
    )
    assert error.response.status_code == 429 and int(error.response.headers["Retry-After"]) > 50
    assert error.response["error"] == "ratelimited"


def test_internal_apps_keep_tier_3_and_page_through_with_cursors(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    sandbox.state.configure({"rate_limits": "off"})
    parent = _thread_of(client, 20)
    sandbox.state.configure({"rate_limits": "documented", "distribution": "internal"})
    first = client.conversations_replies(channel="C_GENERAL", ts=parent, limit=8)
    second = client.conversations_replies(
        channel="C_GENERAL", ts=parent, limit=100, cursor=first["response_metadata"]["next_cursor"]
    )
    texts = [m["text"] for m in first["messages"] + second["messages"]]
    assert texts == ["parent", *[f"reply {n}" for n in range(20)]]
    assert not second["has_more"] and second["response_metadata"]["next_cursor"] == ""
    assert {m["user"] for m in second["messages"]} == {"U_BOT"}
    bad = slack_error(
        lambda: client.conversations_replies(channel="C_GENERAL", ts=parent, cursor="x")
    )
    assert bad.response["error"] == "invalid_cursor"


def test_history_returns_metadata_only_when_asked(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    sandbox.state.configure({"distribution": "internal"})
    metadata = {"event_type": "errand_job", "event_payload": {"job_id": "J7"}}
    posted = client.chat_postMessage(channel="C_GENERAL", text="card", metadata=metadata)
    assert posted["message"]["metadata"] == metadata
    client.chat_update(
        channel="C_GENERAL",
        ts=posted["ts"],
        text="card v2",
        metadata={"event_type": "errand_job", "event_payload": {"job_id": "J7", "v": 2}},
    )
    plain = client.conversations_history(channel="C_GENERAL")["messages"]
    assert "metadata" not in plain[0]
    [found] = client.conversations_history(
        channel="C_GENERAL", include_all_metadata=True, oldest=posted["ts"], inclusive=True
    )["messages"]
    assert found["metadata"]["event_payload"] == {"job_id": "J7", "v": 2}
    replies = client.conversations_replies(
        channel="C_GENERAL", ts=posted["ts"], include_all_metadata=True
    )
    assert replies["messages"][0]["metadata"]["event_type"] == "errand_job"
    assert client.conversations_history(channel="C_GENERAL", oldest=posted["ts"])["messages"] == []


# -- permanent errors -------------------------------------------------------------------


def test_archived_channel_refuses_posts_and_updates_for_good(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    card = client.chat_postMessage(channel="C_GENERAL", text="card")
    control(sandbox, "/channels/C_GENERAL/archive", {})
    for _ in range(2):
        error = slack_error(lambda: client.chat_postMessage(channel="C_GENERAL", text="x"))
        assert error.response["error"] == "is_archived"
    error = slack_error(lambda: client.chat_update(channel="C_GENERAL", ts=card["ts"], text="y"))
    assert error.response["error"] == "is_archived"
    assert client.conversations_info(channel="C_GENERAL")["channel"]["is_archived"] is True
    control(sandbox, "/channels/C_GENERAL/archive", {"archived": False})
    assert client.chat_update(channel="C_GENERAL", ts=card["ts"], text="y")["ok"]


def test_removed_bot_gets_not_in_channel_and_deleted_channel_is_not_found(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    card = client.chat_postMessage(channel="C_APPROVALS", text="card")
    control(sandbox, "/channels/C_APPROVALS/members", {"action": "remove"})
    error = slack_error(lambda: client.chat_update(channel="C_APPROVALS", ts=card["ts"], text="y"))
    assert error.response["error"] == "not_in_channel"

    assert HTTP.delete(f"{sandbox.url}/_sandbox/channels/C_ONCALL").json() == {"ok": True}
    for call in (
        lambda: client.chat_postMessage(channel="C_ONCALL", text="x"),
        lambda: client.chat_postMessage(channel="#oncall", text="x"),
        lambda: client.conversations_info(channel="C_ONCALL"),
    ):
        assert slack_error(call).response["error"] == "channel_not_found"
    control(sandbox, "/reset", {})
    assert client.chat_postMessage(channel="C_ONCALL", text="back after reset")["ok"]
