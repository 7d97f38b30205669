"""People's actions delivered to a real Bolt app over HTTP, signed as Slack signs them.

A Bolt `App` behind its Flask adapter plays the bot: every request it gets is first
checked with slack_sdk's `SignatureVerifier`, then dispatched to listeners that record
what they saw and call the stand-in back through the real `WebClient`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import flask
import pytest
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from werkzeug.serving import make_server

from sandbox.slack_api import RunningSandbox, start_in_thread
from tests.support.client import HTTP

TOKEN = "xoxb-sandbox"
SECRET = "events-test-signing-secret"
TEAM = "T0SANDBOX"
FEEDBACK = {
    "type": "context_actions",
    "block_id": "feedback",
    "elements": [
        {
            "type": "feedback_buttons",
            "action_id": "answer_feedback",
            "positive_button": {"text": {"type": "plain_text", "text": "👍"}, "value": "good"},
            "negative_button": {"text": {"type": "plain_text", "text": "👎"}, "value": "bad"},
        }
    ],
}
BATCH_MODAL = {
    "type": "modal",
    "callback_id": "batch",
    "title": {"type": "plain_text", "text": "Batch"},
    "submit": {"type": "plain_text", "text": "Run"},
    "blocks": [
        {
            "type": "input",
            "block_id": "rows_block",
            "label": {"type": "plain_text", "text": "Rows"},
            "element": {
                "type": "file_input",
                "action_id": "rows",
                "filetypes": ["csv", "jsonl"],
                "max_files": 1,
            },
        }
    ],
}


@dataclass
class Bot:
    """What the Bolt app received, listener by listener."""

    url: str
    seen: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unsigned: int = 0

    def got(self, kind: str, item: dict[str, Any]) -> None:
        self.seen.setdefault(kind, []).append(item)


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    sandbox = start_in_thread()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def bot(running: RunningSandbox) -> Iterator[Bot]:
    bolt = App(
        token=TOKEN,
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=running.api_url),
        process_before_response=True,
    )
    server = make_server("127.0.0.1", 0, _bot_app(bolt, found := Bot("")), threaded=True)
    found.url = f"http://127.0.0.1:{server.server_port}/slack/events"
    _listeners(bolt, found)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    thread.join(timeout=10)


def _bot_app(bolt: App, bot: Bot) -> flask.Flask:
    app = flask.Flask("bolt-under-test")
    handler = SlackRequestHandler(bolt)
    verifier = SignatureVerifier(SECRET)

    @app.post("/slack/events")
    def events() -> Any:
        if not verifier.is_valid_request(flask.request.get_data(), dict(flask.request.headers)):
            bot.unsigned += 1
        return handler.handle(flask.request)

    return app


def _listeners(bolt: App, bot: Bot) -> None:
    @bolt.event("app_mention")
    def mention(
        body: dict[str, Any], event: dict[str, Any], client: WebClient, request: BoltRequest
    ) -> None:
        thread = event.get("thread_ts")
        history = (
            client.conversations_replies(channel=event["channel"], ts=thread) if thread else None
        )
        retry = tuple(
            (request.headers.get(name) or [None])[0]
            for name in ("x-slack-retry-num", "x-slack-retry-reason")
        )
        seen = {"event": event, "history": history.data if history else None, "retry": retry}
        bot.got("app_mention", {**seen, "event_id": body["event_id"]})

    @bolt.event("message")
    def message(event: dict[str, Any]) -> None:
        bot.got("message", event)

    @bolt.event("agent_session_stopped")
    def stopped(event: dict[str, Any]) -> None:
        bot.got("agent_session_stopped", event)

    @bolt.shortcut("research_this")
    def shortcut(ack: Any, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=shortcut["trigger_id"], view=BATCH_MODAL)
        bot.got("message_action", shortcut)

    @bolt.action("answer_feedback")
    def feedback(ack: Any, body: dict[str, Any]) -> None:
        ack()
        bot.got("feedback", body)

    @bolt.view("batch")
    def batch(ack: Any, view: dict[str, Any], client: WebClient) -> None:
        ack()
        [file] = view["state"]["values"]["rows_block"]["rows"]["files"]
        info = client.files_info(file=file["id"])["file"]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        content = HTTP.get(info["url_private_download"], headers=headers).text
        bot.got("view_submission", {"file": file, "content": content})


@pytest.fixture
def sandbox(running: RunningSandbox, bot: Bot) -> RunningSandbox:
    running.state.reset()
    running.state.configure({"request_url": bot.url, "signing_secret": SECRET})
    bot.seen.clear()
    return running


@pytest.fixture
def client(sandbox: RunningSandbox) -> WebClient:
    return WebClient(token=TOKEN, base_url=sandbox.api_url, retry_handlers=[])


def act(sandbox: RunningSandbox, action: str, body: dict[str, Any]) -> Any:
    response = HTTP.post(f"{sandbox.url}/_sandbox/client/{action}", json=body, timeout=20)
    assert response.status_code in (200, 409), response.text
    return response.json()


def test_a_mention_in_a_channel_is_stored_and_sent_as_app_mention(
    sandbox: RunningSandbox, bot: Bot
) -> None:
    text = "<@U_BOT> research heat pumps"
    sent = act(sandbox, "message", {"user": "U_REQUESTER", "channel": "C_GENERAL", "text": text})
    assert sent["deliveries"] == [{"type": "app_mention", "status": 200}]
    [seen] = bot.seen["app_mention"]
    event = seen["event"]
    assert (event["user"], event["channel"], event["text"], event["ts"]) == (
        "U_REQUESTER",
        "C_GENERAL",
        text,
        sent["ts"],
    )
    assert "thread_ts" not in event and event["client_msg_id"]
    assert event["blocks"][0]["elements"][0]["elements"][0] == {"type": "user", "user_id": "U_BOT"}
    assert "message" not in bot.seen  # not subscribed to message.channels by default
    [stored] = HTTP.get(f"{sandbox.url}/_sandbox/channels/C_GENERAL/messages").json()["messages"]
    assert stored["user"] == "U_REQUESTER" and stored["text"] == text
    [delivery] = HTTP.get(f"{sandbox.url}/_sandbox/deliveries").json()["deliveries"]
    assert (
        delivery["payload"]["type"] == "event_callback" and delivery["payload"]["team_id"] == TEAM
    )
    assert bot.unsigned == 0


def test_a_mention_in_a_thread_carries_thread_ts_and_replies_come_back_in_order(
    sandbox: RunningSandbox, bot: Bot, client: WebClient
) -> None:
    card = client.chat_postMessage(channel="C_GENERAL", text="Job J1 is done")["ts"]
    act(
        sandbox,
        "message",
        {"user": "U_OTHER", "channel": "C_GENERAL", "text": "nice", "thread_ts": card},
    )
    text = "<@U_BOT> and what about frost?"
    body = {"user": "U_REQUESTER", "channel": "C_GENERAL", "text": text, "thread_ts": card}
    assert act(sandbox, "message", body)["deliveries"] == [{"type": "app_mention", "status": 200}]
    [seen] = bot.seen["app_mention"]
    assert seen["event"]["thread_ts"] == card
    history = seen["history"]["messages"]
    assert [(m["user"], m["text"]) for m in history] == [
        ("U_BOT", "Job J1 is done"),
        ("U_OTHER", "nice"),
        ("U_REQUESTER", text),
    ]


def test_slack_retries_an_event_with_its_event_id_and_a_retry_number(
    sandbox: RunningSandbox, bot: Bot
) -> None:
    body = {"user": "U_REQUESTER", "channel": "C_GENERAL", "text": "<@U_BOT> research tides"}
    act(sandbox, "message", body)
    [delivery] = HTTP.get(f"{sandbox.url}/_sandbox/deliveries").json()["deliveries"]
    retry = f"{sandbox.url}/_sandbox/deliveries/{delivery['seq']}/retry"
    assert HTTP.post(retry, json={}).json() == {"ok": True, "status": 200}
    first, again = bot.seen["app_mention"]
    assert first["event_id"] == again["event_id"] and first["event"] == again["event"]
    assert (first["retry"], again["retry"]) == ((None, None), ("1", "http_timeout"))
    assert bot.unsigned == 0
    command = HTTP.post(f"{sandbox.url}/_sandbox/deliveries/999/retry", json={})
    assert command.status_code == 409  # only event deliveries are retried


def test_message_events_follow_subscriptions_and_the_apps_membership(
    sandbox: RunningSandbox, bot: Bot
) -> None:
    sandbox.state.configure({"bot_events": ["app_mention", "message.channels"]})
    plain = {"user": "U_REQUESTER", "channel": "C_GENERAL", "text": "hello all"}
    assert act(sandbox, "message", plain)["deliveries"] == [{"type": "message", "status": 200}]
    mention = {**plain, "text": "<@U_BOT> hi"}
    kinds = [d["type"] for d in act(sandbox, "message", mention)["deliveries"]]
    assert kinds == ["message", "app_mention"]
    assert bot.seen["message"][0]["channel_type"] == "channel"
    nobot = {**mention, "channel": "C_NOBOT"}
    assert act(sandbox, "message", nobot)["deliveries"] == []  # the app is not in #no-bot
    refused = act(sandbox, "message", {**plain, "channel": "C_MISSING"})
    assert refused == {"ok": False, "error": "no channel C_MISSING"}


def test_research_this_shortcut_sends_message_action_with_a_usable_trigger(
    sandbox: RunningSandbox, bot: Bot, client: WebClient
) -> None:
    ts = client.chat_postMessage(channel="C_GENERAL", text="Heat pumps lose 10% in frost")["ts"]
    sent = act(sandbox, "shortcut", {"user": "U_REQUESTER", "channel": "C_GENERAL", "ts": ts})
    assert sent == {"ok": True, "status": 200}
    [payload] = bot.seen["message_action"]
    assert payload["type"] == "message_action" and payload["callback_id"] == "research_this"
    assert payload["message"]["ts"] == ts and payload["message_ts"] == ts
    assert payload["channel"] == {"id": "C_GENERAL", "name": "general"}
    assert payload["response_url"].startswith(sandbox.url)
    views = HTTP.get(f"{sandbox.url}/_sandbox/views/U_REQUESTER").json()
    assert [m["callback_id"] for m in views["modals"]] == ["batch"]
    sandbox.state.configure({"message_shortcuts": [{"callback_id": "summarise", "name": "Sum"}]})
    unknown = act(
        sandbox,
        "shortcut",
        {"user": "U_REQUESTER", "channel": "C_GENERAL", "ts": ts, "callback_id": "research_this"},
    )
    assert unknown["ok"] is False


def test_feedback_buttons_send_block_actions_with_the_pressed_value(
    sandbox: RunningSandbox, bot: Bot, client: WebClient
) -> None:
    ts = client.chat_postMessage(channel="C_GENERAL", text="answer", blocks=[FEEDBACK])["ts"]
    press = {
        "user": "U_REQUESTER",
        "channel": "C_GENERAL",
        "ts": ts,
        "action_id": "answer_feedback",
        "block_id": "feedback",
        "value": "bad",
        "text": "👎",
    }
    assert act(sandbox, "press", press) == {"ok": True, "status": 200}
    [body] = bot.seen["feedback"]
    [action] = body["actions"]
    assert (action["type"], action["value"], action["block_id"]) == (
        "feedback_buttons",
        "bad",
        "feedback",
    )
    assert body["message"]["ts"] == ts and body["container"]["message_ts"] == ts


def test_stop_stops_the_threads_stream_and_sends_agent_session_stopped(
    sandbox: RunningSandbox, bot: Bot, client: WebClient
) -> None:
    parent = client.chat_postMessage(channel="C_GENERAL", text="question")["ts"]
    client.agents_sessions_setStatus(channel_id="C_GENERAL", thread_ts=parent, status="processing")
    stream = client.chat_startStream(
        channel="C_GENERAL",
        thread_ts=parent,
        recipient_team_id=TEAM,
        recipient_user_id="U_REQUESTER",
        markdown_text="thinking",
    )
    stop = {"user": "U_REQUESTER", "channel": "C_GENERAL", "thread_ts": parent}
    answer = act(sandbox, "stop", stop)
    assert answer == {"ok": True, "status": 200, "streaming_message_ts": [stream["ts"]]}
    [event] = bot.seen["agent_session_stopped"]
    assert {k: event[k] for k in ("channel", "thread_ts", "user", "streaming_message_ts")} == {
        "channel": "C_GENERAL",
        "thread_ts": parent,
        "user": "U_REQUESTER",
        "streaming_message_ts": [stream["ts"]],
    }
    with pytest.raises(SlackApiError) as info:
        client.chat_appendStream(channel="C_GENERAL", ts=stream["ts"], markdown_text="more")
    assert info.value.response["error"] == "stopped_by_user"
    client.agents_sessions_setStatus(channel_id="C_GENERAL", thread_ts=parent, status="active")
    assert act(sandbox, "stop", stop)["ok"] is False  # no Stop button unless processing


def test_a_file_input_modal_submits_the_uploaded_file_as_slack_does(
    sandbox: RunningSandbox, bot: Bot, client: WebClient
) -> None:
    trigger = sandbox.state.new_trigger_id("U_REQUESTER")
    view = client.views_open(trigger_id=trigger, view=BATCH_MODAL)["view"]
    wrong = act(sandbox, "upload", {"user": "U_REQUESTER", "name": "rows.txt", "content": "x"})
    values = {"rows_block": {"rows": [wrong["file"]["id"]]}}
    refused = act(
        sandbox, "submit", {"user": "U_REQUESTER", "view_id": view["id"], "values": values}
    )
    assert refused["ok"] is False and "csv" in refused["error"]

    uploaded = act(
        sandbox, "upload", {"user": "U_REQUESTER", "name": "rows.csv", "content": "q\nheat\n"}
    )
    assert uploaded["file"]["user"] == "U_REQUESTER" and uploaded["file"]["size"] == 7
    values = {"rows_block": {"rows": [uploaded["file"]["id"]]}}
    sent = act(sandbox, "submit", {"user": "U_REQUESTER", "view_id": view["id"], "values": values})
    assert sent == {"ok": True, "status": 200}
    [seen] = bot.seen["view_submission"]
    assert seen["content"] == "q\nheat\n" and seen["file"]["name"] == "rows.csv"
    assert HTTP.get(seen["file"]["url_private"]).status_code == 302  # the bot token is needed
    assert HTTP.get(f"{sandbox.url}/_sandbox/views/U_REQUESTER").json()["modals"] == []


def test_a_private_download_without_a_usable_token_is_a_sign_in_page_as_in_slack(
    sandbox: RunningSandbox, bot: Bot, client: WebClient
) -> None:
    """No 401: Slack redirects to its sign-in page, which answers 200 with HTML; a file
    the app was never given is a 404 page even with the bot token."""
    trigger = sandbox.state.new_trigger_id("U_REQUESTER")
    view = client.views_open(trigger_id=trigger, view=BATCH_MODAL)["view"]
    upload = {"user": "U_REQUESTER", "name": "rows.csv", "content": "q\nheat\n"}
    file = act(sandbox, "upload", upload)["file"]
    url, bearer = file["url_private_download"], {"Authorization": f"Bearer {TOKEN}"}
    assert HTTP.get(url, headers=bearer).status_code == 404  # not submitted to the app yet
    with pytest.raises(SlackApiError, match="file_not_found"):
        client.files_info(file=file["id"])

    values = {"rows_block": {"rows": [file["id"]]}}
    act(sandbox, "submit", {"user": "U_REQUESTER", "view_id": view["id"], "values": values})
    assert HTTP.get(url, headers=bearer).content == b"q\nheat\n"
    for headers in ({}, {"Authorization": "Bearer xoxp-not-ours"}):
        refused = HTTP.get(url, headers=headers)
        assert refused.status_code == 302 and "/signin" in refused.headers["location"]
        landed = HTTP.get(url, headers=headers, follow_redirects=True)
        assert landed.status_code == 200 and landed.headers["content-type"].startswith("text/html")
        assert "Sign in" in landed.text and "heat" not in landed.text
    downloads = [c for c in sandbox.state.calls if c["method"] == "file_download"]
    # the 404, the test bot's download on submit, ours, then two refusals each followed
    assert [c["status"] for c in downloads] == [404, 200, 200, 302, 302, 302, 302]


def test_nothing_is_sent_without_a_request_url(sandbox: RunningSandbox) -> None:
    sandbox.state.configure({"request_url": None})
    body = {"user": "U_REQUESTER", "channel": "C_GENERAL", "text": "<@U_BOT> hi"}
    answer = act(sandbox, "message", body)
    assert answer["ok"] is False and "request_url" in answer["error"]
