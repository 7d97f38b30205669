"""The Slack sandbox, driven by the real slack_sdk WebClient over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from sandbox import slack_signing as signing
from sandbox.slack_api import RunningSandbox, start_in_thread
from tests.support.client import HTTP

TOKEN = "xoxb-sandbox"
SECRET = "sandbox-signing-secret"


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


@pytest.fixture
def unlimited(sandbox: RunningSandbox) -> RunningSandbox:
    """The stand-in with rate limits off, for tests about something else that post fast."""
    sandbox.state.configure({"rate_limits": "off"})
    return sandbox


def control(sandbox: RunningSandbox, path: str, body: dict[str, Any] | None = None) -> Any:
    """GET (no body) or POST a JSON body to the control API."""
    url = f"{sandbox.url}/_sandbox{path}"
    response = HTTP.post(url, json=body) if body is not None else HTTP.get(url, timeout=10)
    assert response.status_code < 500, response.text
    return response.json()


def messages(sandbox: RunningSandbox, channel: str) -> dict[str, Any]:
    result: dict[str, Any] = control(sandbox, f"/channels/{channel}/messages")
    return result


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value


# -- messages ---------------------------------------------------------------------------


def test_post_update_and_thread_reply_show_in_conversation_state(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    card = client.chat_postMessage(
        channel="C_GENERAL",
        text="Job queued",
        blocks=[section("*Job* queued")],
        metadata={"event_type": "errand_job", "event_payload": {"job_id": "J1"}},
        unfurl_links=False,
    )
    assert card["ok"] and card["channel"] == "C_GENERAL"
    assert card["message"]["bot_id"] == "B_ERRAND" and card["message"]["user"] == "U_BOT"
    assert card["message"]["blocks"][0]["block_id"]

    updated = client.chat_update(
        channel="C_GENERAL", ts=card["ts"], text="Job running", blocks=[section("running")]
    )
    assert updated["ts"] == card["ts"] and updated["message"]["edited"]["user"] == "U_BOT"
    reply = client.chat_postMessage(channel="C_GENERAL", thread_ts=card["ts"], text="milestone 1")
    assert reply["message"]["thread_ts"] == card["ts"]

    state = messages(sandbox, "C_GENERAL")
    [top] = state["messages"]
    assert top["ts"] == card["ts"] and top["text"] == "Job running" and top["edited"]
    assert top["blocks"][0]["text"]["text"] == "running"
    assert top["metadata"] == {"event_type": "errand_job", "event_payload": {"job_id": "J1"}}
    assert top["reply_count"] == 1 and [r["text"] for r in top["replies"]] == ["milestone 1"]

    history = client.conversations_replies(channel="C_GENERAL", ts=card["ts"])
    assert [m["ts"] for m in history["messages"]] == [card["ts"], reply["ts"]]


def test_form_encoded_bodies_are_accepted(client: WebClient) -> None:
    blocks = json.dumps([section("form body")])
    posted = client.api_call(
        "chat.postMessage", params={"channel": "#general", "text": "x", "blocks": blocks}
    )
    assert posted["channel"] == "C_GENERAL"
    assert posted["message"]["blocks"][0]["text"]["text"] == "form body"


def test_bot_must_be_in_channel(sandbox: RunningSandbox, client: WebClient) -> None:
    error = slack_error(lambda: client.chat_postMessage(channel="C_NOBOT", text="hi"))
    assert error.response["error"] == "not_in_channel"
    control(sandbox, "/channels/C_NOBOT/members", {"action": "add"})
    assert client.chat_postMessage(channel="C_NOBOT", text="hi")["ok"]


def test_unknown_channel_and_message(client: WebClient) -> None:
    error = slack_error(lambda: client.chat_postMessage(channel="C_MISSING", text="hi"))
    assert error.response["error"] == "channel_not_found"
    error = slack_error(lambda: client.chat_update(channel="C_GENERAL", ts="1.000001", text="x"))
    assert error.response["error"] == "message_not_found"


def test_block_kit_limits(unlimited: RunningSandbox, client: WebClient) -> None:
    # Five posts in one channel within a second: past chat.postMessage's burst, and
    # this test is about Block Kit, not rate limits.
    too_many = [section(f"block {i}") for i in range(51)]
    error = slack_error(
        lambda: client.chat_postMessage(channel="C_GENERAL", text="x", blocks=too_many)
    )
    assert error.response["error"] == "invalid_blocks"
    assert "json-pointer:/blocks" in error.response["response_metadata"]["messages"][0]

    long_section = [section("a" * 3001)]
    error = slack_error(
        lambda: client.chat_postMessage(channel="C_GENERAL", text="x", blocks=long_section)
    )
    assert error.response["error"] == "invalid_blocks"
    assert error.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    button = {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}, "action_id": "a"}
    actions = [{"type": "actions", "elements": [button]}]
    error = slack_error(
        lambda: client.chat_postMessage(channel="C_GENERAL", text="x", blocks=actions)
    )
    assert "/blocks/0/elements/0/text/text" in error.response["response_metadata"]["messages"][0]
    assert client.chat_postMessage(channel="C_GENERAL", text="x", blocks=[section("a" * 3000)])[
        "ok"
    ]


def _button(text: str = "Go", action_id: str = "go") -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id}


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "/blocks/0/text/text",
        ),
        (
            [{"type": "markdown", "text": "m" * 6001}, {"type": "markdown", "text": "m" * 6000}],
            "/blocks/1/text",
        ),
        (
            [{"type": "actions", "elements": [_button(action_id="a" * 256)]}],
            "/blocks/0/elements/0/action_id",
        ),
        (
            [{"type": "actions", "elements": [_button(action_id=f"b{i}") for i in range(26)]}],
            "/blocks/0/elements",
        ),
        # slack_sdk 3.47 models carousel (and card, alert, plan...): an invented type instead
        ([{"type": "banner"}], "/blocks/0/type"),
    ],
    ids=["header", "markdown-total", "action-id", "actions-elements", "unknown-type"],
)
def test_more_block_kit_limits(
    client: WebClient, blocks: list[dict[str, Any]], pointer: str
) -> None:
    error = slack_error(
        lambda: client.chat_postMessage(channel="C_GENERAL", text="x", blocks=blocks)
    )
    assert error.response["error"] == "invalid_blocks"
    assert any(
        f"[json-pointer:{pointer}]" in m for m in error.response["response_metadata"]["messages"]
    )


def test_msg_too_long_and_missing_arguments(client: WebClient) -> None:
    error = slack_error(lambda: client.chat_postMessage(channel="C_GENERAL", text="x" * 40_001))
    assert error.response["error"] == "msg_too_long"
    error = slack_error(
        lambda: client.api_call("chat.update", json={"channel": "C_GENERAL", "text": "x"})
    )
    assert error.response["error"] == "invalid_arguments"


def test_auth_errors(sandbox: RunningSandbox) -> None:
    anonymous = WebClient(base_url=sandbox.api_url, retry_handlers=[])
    assert slack_error(anonymous.auth_test).response["error"] == "not_authed"
    wrong = WebClient(token="xoxp-not-a-bot", base_url=sandbox.api_url, retry_handlers=[])
    assert slack_error(wrong.auth_test).response["error"] == "invalid_auth"
    me = WebClient(token=TOKEN, base_url=sandbox.api_url).auth_test()
    assert (me["user_id"], me["bot_id"], me["team_id"]) == ("U_BOT", "B_ERRAND", "T0SANDBOX")


# -- faults -----------------------------------------------------------------------------


def test_rate_limit_fault_raises_without_retry_handler(
    sandbox: RunningSandbox, client: WebClient
) -> None:
    card = client.chat_postMessage(channel="C_GENERAL", text="card")
    control(
        sandbox, "/faults", {"method": "chat.update", "status": 429, "count": 1, "retry_after": 1}
    )
    error = slack_error(lambda: client.chat_update(channel="C_GENERAL", ts=card["ts"], text="x"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "1"
    assert error.response["error"] == "ratelimited"
    assert client.chat_update(channel="C_GENERAL", ts=card["ts"], text="x")["ok"]


def test_rate_limit_fault_absorbed_by_retry_handler(sandbox: RunningSandbox) -> None:
    patient = WebClient(
        token=TOKEN, base_url=sandbox.api_url, retry_handlers=[RateLimitErrorRetryHandler()]
    )
    card = patient.chat_postMessage(channel="C_GENERAL", text="card")
    control(
        sandbox, "/faults", {"method": "chat.update", "status": 429, "count": 1, "retry_after": 0}
    )
    assert patient.chat_update(channel="C_GENERAL", ts=card["ts"], text="done")["ok"]
    calls = control(sandbox, "/calls?method=chat.update")["calls"]
    assert [(c["status"], c["error"]) for c in calls] == [(429, "ratelimited"), (200, None)]
    assert calls[1]["args"] == {"channel": "C_GENERAL", "ts": card["ts"], "text": "done"}


def test_outage_returns_503_for_every_call(sandbox: RunningSandbox, client: WebClient) -> None:
    control(sandbox, "/faults", {"outage_seconds": 30})
    error = slack_error(client.auth_test)
    assert error.response.status_code == 503
    control(sandbox, "/faults", {"outage_seconds": 0})
    assert client.auth_test()["ok"]


# -- files, directory, DMs ---------------------------------------------------------------


def test_files_upload_v2_round_trip(sandbox: RunningSandbox, client: WebClient) -> None:
    card = client.chat_postMessage(channel="C_GENERAL", text="card")
    done = client.files_upload_v2(
        channel="C_GENERAL",
        thread_ts=card["ts"],
        content="# Result\nall good\n",
        filename="result.md",
        title="Result",
        initial_comment="Here is the result",
    )
    file_id = done["file"]["id"]
    [top] = messages(sandbox, "C_GENERAL")["messages"]
    [reply] = top["replies"]
    assert reply["text"] == "Here is the result"
    assert [(f["id"], f["title"], f["name"]) for f in reply["files"]] == [
        (file_id, "Result", "result.md")
    ]

    url = reply["files"][0]["url_private_download"]
    assert HTTP.get(url).status_code == 302  # to the sign-in page, as Slack does
    content = HTTP.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert content.text == "# Result\nall good\n"
    methods = [c["method"] for c in control(sandbox, "/calls")["calls"]]
    assert methods[-5:] == [
        "files.getUploadURLExternal",
        "upload_url",
        "files.completeUploadExternal",
        "file_download",
        "file_download",
    ]


def test_usergroups_users_and_dms(client: WebClient) -> None:
    assert client.usergroups_users_list(usergroup="S_APPROVERS")["users"] == ["U_APPROVER"]
    assert client.usergroups_users_list(usergroup="S_ONCALL")["users"] == ["U_ONCALL"]
    assert slack_error(lambda: client.usergroups_users_list(usergroup="S_NOPE")).response[
        "error"
    ] == ("no_such_subteam")
    dm = client.conversations_open(users="U_APPROVER")["channel"]["id"]
    assert dm.startswith("D")
    again = client.conversations_open(users=["U_APPROVER"])
    assert again["channel"]["id"] == dm and again["already_open"]
    assert client.chat_postMessage(channel=dm, text="Please approve")["channel"] == dm
    assert client.conversations_info(channel=dm)["channel"]["user"] == "U_APPROVER"
    assert client.users_info(user="U_REQUESTER")["user"]["real_name"] == "Riley Requester"
    assert client.conversations_info(channel="C_NOBOT")["channel"]["is_member"] is False


def test_ephemeral_and_permalink(sandbox: RunningSandbox, client: WebClient) -> None:
    sent = client.chat_postEphemeral(channel="C_GENERAL", user="U_REQUESTER", text="only you")
    state = messages(sandbox, "C_GENERAL")
    assert state["messages"] == []
    assert state["ephemeral"]["U_REQUESTER"][0]["ts"] == sent["message_ts"]
    posted = client.chat_postMessage(channel="C_GENERAL", text="card")
    link = client.chat_getPermalink(channel="C_GENERAL", message_ts=posted["ts"])["permalink"]
    assert link.endswith("/archives/C_GENERAL/p" + posted["ts"].replace(".", ""))


# -- response_url, views, events --------------------------------------------------------


def test_response_url_posts_show_up(sandbox: RunningSandbox, client: WebClient) -> None:
    state = sandbox.state
    hook = WebhookClient(state.new_response_url("C_NOBOT", "U_REQUESTER"))
    assert hook.send(text="Working on it", response_type="ephemeral").status_code == 200
    assert hook.send(text="Job J1 queued", response_type="in_channel").status_code == 200
    nobot = messages(sandbox, "C_NOBOT")
    assert [m["text"] for m in nobot["messages"]] == ["Job J1 queued"]
    assert [e["text"] for e in nobot["ephemeral"]["U_REQUESTER"]] == ["Working on it"]

    card = client.chat_postMessage(channel="C_GENERAL", text="Approve?")
    button_hook = WebhookClient(state.new_response_url("C_GENERAL", "U_APPROVER", card["ts"]))
    assert button_hook.send(text="Approved by Avery", replace_original=True).status_code == 200
    [top] = messages(sandbox, "C_GENERAL")["messages"]
    assert top["text"] == "Approved by Avery" and top["edited"]
    calls = control(sandbox, "/calls?method=response_url")["calls"]
    assert len(calls) == 3 and calls[0]["args"]["text"] == "Working on it"
    assert (
        HTTP.post(f"{sandbox.url}/_sandbox/response_url/nope", json={"text": "x"}).status_code
        == 404
    )


def test_views_open_and_publish(sandbox: RunningSandbox, client: WebClient) -> None:
    trigger = sandbox.state.new_trigger_id("U_REQUESTER")
    modal = {
        "type": "modal",
        "callback_id": "new_job",
        "title": {"type": "plain_text", "text": "New errand"},
        "submit": {"type": "plain_text", "text": "Start"},
        "blocks": [
            {
                "type": "input",
                "block_id": "prompt",
                "label": {"type": "plain_text", "text": "Prompt"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }
    opened = client.views_open(trigger_id=trigger, view=modal)["view"]
    home = {"type": "home", "blocks": [section("Your errands")]}
    client.views_publish(user_id="U_REQUESTER", view=home)
    views = control(sandbox, "/views/U_REQUESTER")
    assert [m["id"] for m in views["modals"]] == [opened["id"]]
    assert views["home"]["blocks"][0]["text"]["text"] == "Your errands"
    client.views_update(view_id=opened["id"], view={**modal, "callback_id": "changed"})
    assert control(sandbox, "/views/U_REQUESTER")["modals"][0]["callback_id"] == "changed"


def test_events_long_poll_wakes_on_change(sandbox: RunningSandbox, client: WebClient) -> None:
    since = control(sandbox, "/events")["version"]
    timer = threading.Timer(0.2, lambda: client.chat_postMessage(channel="C_GENERAL", text="wake"))
    timer.start()
    started = time.monotonic()
    result = control(sandbox, f"/events?since={since}&timeout=5")
    timer.join()
    assert time.monotonic() - started < 4
    assert result["version"] > since
    assert result["events"][0]["kind"] == "message_posted"


# -- signing ----------------------------------------------------------------------------


def test_signing_helpers_verify_with_slack_sdk() -> None:
    verifier = SignatureVerifier(SECRET)
    command = signing.slash_command_body(
        "/errand", "summarise the logs", "U_REQUESTER", "C_GENERAL", "http://x/r", "1.2.abc"
    )
    assert verifier.is_valid_request(command, signing.form_headers(command, SECRET))
    fields = {k: v[0] for k, v in parse_qs(command.decode()).items()}
    assert fields["command"] == "/errand" and fields["channel_name"] == "general"
    assert list(fields)[:3] == ["token", "team_id", "team_domain"]

    click = signing.block_actions_body(
        "cancel", "J1", "U_REQUESTER", "C_GENERAL", "1.5", "1.2.abc", "http://x/r"
    )
    assert verifier.is_valid_request(click, signing.sign(click, SECRET))
    payload = json.loads(parse_qs(click.decode())["payload"][0])
    assert payload["actions"][0]["action_id"] == "cancel" and payload["message"]["ts"] == "1.5"
    assert payload["container"]["message_ts"] == "1.5"

    submit = signing.view_submission_body("new_job", "{}", {"prompt": {"value": {}}}, "U_REQUESTER")
    home = signing.app_home_opened_body("U_REQUESTER")
    assert verifier.is_valid_request(submit, signing.sign(submit, SECRET))
    assert verifier.is_valid_request(home, signing.json_headers(home, SECRET))
    assert not verifier.is_valid_request(home, signing.sign(home, "wrong-secret"))
    assert not verifier.is_valid_request(
        home, signing.sign(home, SECRET, timestamp=int(time.time()) - 600)
    )


def test_bolt_app_accepts_signed_requests_and_talks_to_the_sandbox(sandbox: RunningSandbox) -> None:

    def signed(body: bytes, secret: str = SECRET) -> BoltRequest:
        headers: dict[str, str | Sequence[str]] = dict(signing.form_headers(body, secret))
        return BoltRequest(body=body.decode(), headers=headers)

    app = App(
        token=TOKEN,
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=sandbox.api_url),
        process_before_response=True,
    )

    @app.command("/errand")
    def start(ack: Any, respond: Any, client: WebClient, command: dict[str, Any]) -> None:
        ack()
        respond(text="Queued", response_type="ephemeral")
        client.chat_postMessage(channel=command["channel_id"], text=f"Job: {command['text']}")

    @app.action("cancel")
    def cancel(ack: Any, respond: Any, body: dict[str, Any]) -> None:
        ack()
        respond(text=f"Cancelled by <@{body['user']['id']}>", replace_original=True)

    state = sandbox.state
    url = state.new_response_url("C_GENERAL", "U_REQUESTER")
    trigger = state.new_trigger_id("U_REQUESTER")
    body = signing.slash_command_body("/errand", "do it", "U_REQUESTER", "C_GENERAL", url, trigger)
    response = app.dispatch(signed(body))
    assert response.status == 200
    convo = messages(sandbox, "C_GENERAL")
    [card] = convo["messages"]
    assert card["text"] == "Job: do it"
    assert convo["ephemeral"]["U_REQUESTER"][0]["text"] == "Queued"

    click_url = state.new_response_url("C_GENERAL", "U_REQUESTER", card["ts"])
    click = signing.block_actions_body(
        "cancel", "J1", "U_REQUESTER", "C_GENERAL", card["ts"], trigger, click_url, message=card
    )
    response = app.dispatch(signed(click))
    assert response.status == 200
    assert messages(sandbox, "C_GENERAL")["messages"][0]["text"] == "Cancelled by <@U_REQUESTER>"
    forged = app.dispatch(signed(click, "nope"))
    assert forged.status == 401


def test_runs_as_a_separate_process() -> None:

    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.slack_api", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        assert WebClient(token=TOKEN, base_url=f"{url}/api/").auth_test()["ok"]
        channels = HTTP.get(f"{url}/_sandbox/channels").json()["channels"]
        assert {c["id"] for c in channels} == {"C_GENERAL", "C_APPROVALS", "C_ONCALL", "C_NOBOT"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
