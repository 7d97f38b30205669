"""The sandbox page in headless Chromium against the Slack stand-in and a small Bolt bot.

The bot (a real Bolt `App`, served over HTTP) does what Errand will do with the new
surface: on a mention it sets its agent session to processing, reacts, and streams a
plan with task cards into the thread, waiting for the test between steps; 👍/👎 feedback
gets a reply; the "Research this" shortcut opens a modal with a file input, and the
submitted file comes back as a result uploaded with files_upload_v2. Screenshots of each
step are kept in test-artifacts/sandbox-slack-page/.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flask
import pytest
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import PlanUpdateChunk, TaskUpdateChunk
from werkzeug.serving import make_server

from sandbox import openai_state, slack_api
from sandbox.openai_responses import SandboxOpenAISettings
from sandbox.slack_state import SandboxState
from sandbox.slack_workspace import SlackSandboxSettings
from sandbox.ui_server import UiConfig, create_ui_app
from tests.support.browser import CHROMIUM_ARGS, ROOT, chromium_path
from tests.support.client import HTTP

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.exclusive  # a browser's few-second waits, like test_sandbox_ui

TOKEN = "xoxb-page-test"
SECRET = "page-test-signing-secret"
SHOTS = ROOT / "test-artifacts" / "sandbox-slack-page"
SECOND = 1000
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
ANSWER = (
    "## Answer\nModern **air-source heat pumps** keep working down to about -20 °C; ",
    "efficiency drops in frost, and defrost cycles help.\n",
    "- Use a low flow temperature\n- Size for the coldest week",
)
BATCH = {
    "type": "modal",
    "callback_id": "research_rows",
    "title": {"type": "plain_text", "text": "Research this"},
    "submit": {"type": "plain_text", "text": "Start"},
    "blocks": [
        {
            "type": "input",
            "block_id": "rows",
            "label": {"type": "plain_text", "text": "Questions (CSV)"},
            "element": {"type": "file_input", "action_id": "file", "filetypes": ["csv"]},
        }
    ],
}


@dataclass
class Bot:
    """The Bolt bot's gates (each mention's answer waits for the test) and what it saw."""

    gates: list[threading.Event] = field(
        default_factory=lambda: [threading.Event() for _ in range(4)]
    )
    mentions: int = 0
    seen: dict[str, Any] = field(default_factory=dict)

    def next_gate(self) -> threading.Event:
        self.mentions += 1
        return self.gates[self.mentions - 1]

    def release(self, mention: int) -> None:
        self.gates[mention].set()


@dataclass
class Served:
    url: str
    state: SandboxState
    bot: Bot


def _route(ui: Any, slack: Any) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "/")
        target = ui if path == "/" or path.startswith("/ui/") else slack
        return target(environ, start_response)  # type: ignore[no-any-return]

    return app


class _Late:
    """A WSGI app filled in after its server is bound (the bot needs the page's port)."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.app(environ, start_response)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    slack = slack_api.create_app(SlackSandboxSettings(accepted_tokens=frozenset({TOKEN})))
    state = slack_api.get_state(slack)
    page_app, bot_app = _Late(), _Late()
    page_server = make_server("127.0.0.1", 0, page_app, threaded=True)
    bot_server = make_server("127.0.0.1", 0, bot_app, threaded=True)
    state.public_url = page_url = f"http://127.0.0.1:{page_server.server_port}"
    provider = openai_state.SandboxState(SandboxOpenAISettings())
    bot_url = f"http://127.0.0.1:{bot_server.server_port}"
    config = UiConfig(state, bot_url, SECRET, provider, "S_APPROVERS", "S_ONCALL")
    page_app.app = _route(create_ui_app(config).wsgi_app, slack.wsgi_app)
    servers = [page_server, bot_server]
    threading.Thread(target=page_server.serve_forever, daemon=True).start()
    bot = Bot()
    bot_app.app = _bot_app(page_url, bot)  # Bolt calls auth.test as it starts
    threading.Thread(target=bot_server.serve_forever, daemon=True).start()
    yield Served(page_url, state, bot)
    for server in servers:
        server.shutdown()


def _bot_app(page_url: str, bot: Bot) -> flask.Flask:
    bolt = App(
        token=TOKEN,
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=f"{page_url}/api/"),
    )
    _listeners(bolt, bot)
    app = flask.Flask("page-test-bot")
    handler = SlackRequestHandler(bolt)
    app.add_url_rule(
        "/slack/events", view_func=lambda: handler.handle(flask.request), methods=["POST"]
    )
    return app


def _listeners(bolt: App, bot: Bot) -> None:
    @bolt.event("app_mention")
    def mention(event: dict[str, Any], client: WebClient) -> None:
        channel, thread = event["channel"], event.get("thread_ts") or event["ts"]
        client.reactions_add(channel=channel, timestamp=event["ts"], name="eyes")
        client.agents_sessions_setStatus(
            channel_id=channel, thread_ts=thread, status="processing", title="Heat pumps in frost"
        )
        streamer = client.chat_stream(
            channel=channel,
            thread_ts=thread,
            recipient_team_id=event["team"],
            recipient_user_id=event["user"],
            task_display_mode="plan",
        )
        streamer.append(chunks=[PlanUpdateChunk(title="Researching heat pumps")])
        streamer.append(
            chunks=[TaskUpdateChunk(id="search", title="Searching the web", status="in_progress")]
        )
        streamer.append(
            chunks=[TaskUpdateChunk(id="read", title="Reading 3 sources", status="pending")]
        )
        if not bot.next_gate().wait(30) or bot.seen.get("stopped"):
            return
        streamer.append(
            chunks=[
                TaskUpdateChunk(
                    id="search",
                    title="Searched the web",
                    status="complete",
                    details="Found 12 pages",
                )
            ]
        )
        streamer.append(
            chunks=[TaskUpdateChunk(id="read", title="Read 3 sources", status="complete")]
        )
        for text in ANSWER:
            streamer.append(markdown_text=text)
        streamer.stop(blocks=[FEEDBACK], session_status="active")

    @bolt.event("agent_session_stopped")
    def stopped(event: dict[str, Any], client: WebClient) -> None:
        bot.seen["stopped"] = event
        for gate in bot.gates:
            gate.set()  # the answer being streamed gives up
        client.agents_sessions_setStatus(
            channel_id=event["channel"], thread_ts=event["thread_ts"], status="active"
        )
        client.chat_postMessage(
            channel=event["channel"], thread_ts=event["thread_ts"], text="Stopped as you asked."
        )

    @bolt.action("answer_feedback")
    def feedback(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        value = body["actions"][0]["value"]
        thread = body["message"].get("thread_ts") or body["message"]["ts"]
        client.chat_postMessage(
            channel=body["channel"]["id"],
            thread_ts=thread,
            text=f"Thanks for the feedback ({value}).",
        )

    @bolt.shortcut("research_this")
    def research(ack: Any, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        meta = f"{shortcut['channel']['id']}/{shortcut['message']['ts']}"
        client.views_open(
            trigger_id=shortcut["trigger_id"], view={**BATCH, "private_metadata": meta}
        )

    @bolt.view("research_rows")
    def rows(ack: Any, view: dict[str, Any], client: WebClient) -> None:
        ack()
        channel, ts = view["private_metadata"].split("/")
        [file] = view["state"]["values"]["rows"]["file"]["files"]
        content = HTTP.get(
            file["url_private_download"], headers={"Authorization": f"Bearer {TOKEN}"}
        ).text
        result = f"question,answer\n{content.splitlines()[1]},about -20 °C\n"
        client.files_upload_v2(
            channel=channel,
            thread_ts=ts,
            content=result,
            filename="answers.csv",
            title="Answers",
            initial_comment=f"Researched {file['name']}.",
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    served.state.reset()
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    opened = context.new_page()
    opened.set_default_timeout(15 * SECOND)
    opened.goto(served.url)
    expect(opened.locator("#as-user")).to_have_value("U_REQUESTER")
    yield opened
    context.close()


def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def say(page: Any, text: str, where: str = "#composer-input") -> None:
    page.fill(where, text)
    page.press(where, "Enter")
    expect(page.locator(where)).to_have_value("")


def test_a_mention_streams_a_plan_into_the_thread_with_stop_and_feedback(
    page: Any, served: Served
) -> None:
    say(page, "@errand how do heat pumps cope with frost?")
    asked = page.locator("#messages .msg", has_text="how do heat pumps")
    expect(asked.locator(".mention")).to_have_text("@errand")
    expect(asked.locator(".reaction")).to_contain_text("👀")
    asked.locator(".replies").click()
    thread = page.locator("#thread")
    expect(thread.locator(".bk-plan")).to_contain_text("Searching the web")
    expect(thread.locator("#thread-agent")).to_contain_text("processing")
    expect(thread.get_by_role("button", name="Stop")).to_be_visible()
    expect(thread.locator(".streaming")).to_have_text("streaming…")
    shot(page, "1-streaming-plan")

    served.bot.release(0)
    expect(thread).to_contain_text("keep working down to about -20 °C")
    expect(thread.locator(".task-card.complete")).to_have_count(2)
    expect(thread.locator("#thread-agent")).to_contain_text("active")
    expect(thread.get_by_role("button", name="Stop")).to_have_count(0)
    shot(page, "2-answered-with-feedback")

    thread.get_by_role("button", name="Bad answer").click()
    expect(thread).to_contain_text("Thanks for the feedback (bad).")

    say(page, "@errand and in a passive house?", "#thread-input")
    expect(thread.get_by_role("button", name="Stop")).to_be_visible()
    thread.get_by_role("button", name="Stop").click()
    expect(thread).to_contain_text("Stopped as you asked.")
    expect(thread.locator(".streaming.stopped_by_user")).to_have_count(1)
    assert served.bot.seen["stopped"]["streaming_message_ts"]
    shot(page, "3-stopped")


def test_research_this_shortcut_opens_a_file_modal_and_the_result_comes_back(
    page: Any, served: Served, tmp_path: Path
) -> None:
    say(page, "We should compare heat pumps for the new office")
    mine = page.locator("#messages .msg", has_text="compare heat pumps")
    mine.hover()
    mine.get_by_role("button", name="Research this").click()
    modal = page.locator("#modal")
    expect(modal).to_contain_text("Questions (CSV)")
    questions = tmp_path / "questions.csv"
    questions.write_text("question\nhow cold can it get?\n")
    modal.locator("input[type=file]").set_input_files(str(questions))
    shot(page, "4-file-modal")
    modal.get_by_role("button", name="Start").click()
    expect(modal).to_have_count(0)
    mine.locator(".replies").click()
    thread = page.locator("#thread")
    expect(thread).to_contain_text("Researched questions.csv.")
    link = thread.get_by_role("link", name="Answers")
    expect(link).to_be_visible()
    content = HTTP.get(served.url + str(link.get_attribute("href"))).text
    assert "how cold can it get?,about -20 °C" in content
    shot(page, "5-file-result")


def test_rate_limited_calls_are_counted_quietly_in_the_sidebar(page: Any, served: Served) -> None:
    client = WebClient(token=TOKEN, base_url=f"{served.url}/api/", retry_handlers=[])
    for n in range(4):
        try:
            client.chat_postMessage(channel="C_ONCALL", text=f"alert {n}")
        except SlackApiError as exc:
            assert exc.response.status_code == 429
    expect(page.locator("#slack-stats")).to_contain_text("1 \u00d7 429", timeout=10 * SECOND)
    title = page.locator("#slack-stats").get_attribute("title")
    assert "chat.postMessage: 1" in str(title)
    shot(page, "6-rate-limit-counter")
