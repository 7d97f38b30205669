"""Block Kit as the Slack stand-in validates it: what Slack refuses for good, what it takes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    ContextActionsBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
    PlainTextObject,
)

from sandbox.slack_api import RunningSandbox, start_in_thread

TOKEN = "xoxb-sandbox"


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    sandbox = start_in_thread()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def client(running: RunningSandbox) -> WebClient:
    # Several posts per test in one channel: rate limits are not what these tests are about.
    running.state.reset()
    running.state.configure({"rate_limits": "off"})
    return WebClient(token=TOKEN, base_url=running.api_url, retry_handlers=[])


def feedback(action_id: str = "answer_feedback") -> dict[str, Any]:
    return {
        "type": "feedback_buttons",
        "action_id": action_id,
        "positive_button": {"text": {"type": "plain_text", "text": "👍"}, "value": "good"},
        "negative_button": {"text": {"type": "plain_text", "text": "👎"}, "value": "bad"},
    }


def refused(client: WebClient, blocks: list[dict[str, Any]]) -> list[str]:
    """Post `blocks` twice: Slack refuses invalid blocks every time, not once."""
    messages = []
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel="C_GENERAL", text="x", blocks=blocks)
        assert info.value.response["error"] == "invalid_blocks"
        messages = info.value.response["response_metadata"]["messages"]
    return list(messages)


def test_feedback_buttons_in_a_context_actions_block_are_accepted(client: WebClient) -> None:
    built = ContextActionsBlock(
        elements=[
            FeedbackButtonsElement(
                action_id="answer_feedback",
                positive_button=FeedbackButtonObject(text=PlainTextObject(text="👍"), value="good"),
                negative_button=FeedbackButtonObject(text=PlainTextObject(text="👎"), value="bad"),
            )
        ]
    )
    posted = client.chat_postMessage(channel="C_GENERAL", text="answer", blocks=[built])
    [block] = posted["message"]["blocks"]
    assert block["type"] == "context_actions" and block["block_id"]
    assert block["elements"][0]["positive_button"]["value"] == "good"


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        (
            [{"type": "context_actions", "elements": [feedback(f"f{i}") for i in range(6)]}],
            "no more than 5 items allowed [json-pointer:/blocks/0/elements]",
        ),
        (
            [
                {
                    "type": "context_actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "b",
                            "text": {"type": "plain_text", "text": "b"},
                        }
                    ],
                }
            ],
            "unsupported element type: button",
        ),
        (
            [{"type": "context_actions", "elements": [{**feedback(), "negative_button": None}]}],
            "missing required field: negative_button",
        ),
        (
            [{"type": "task_card", "task_id": "t1", "title": "Search", "status": "done"}],
            "invalid task_card block: status must be an expected value",
        ),
        (
            [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}],
            "no more than 10 items allowed [json-pointer:/blocks/0/elements]",
        ),
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": "s"}, "block_id": "b" * 256}],
            "must be less than 256 characters [json-pointer:/blocks/0/block_id]",
        ),
    ],
    ids=["six-elements", "plain-button", "half-feedback", "task-status", "context-11", "block-id"],
)
def test_blocks_slack_refuses_for_good(
    client: WebClient, blocks: list[dict[str, Any]], expected: str
) -> None:
    assert any(expected in message for message in refused(client, blocks))


def test_plan_and_task_card_blocks_post(client: WebClient) -> None:
    task = {"type": "task_card", "task_id": "t1", "title": "Search the web", "status": "complete"}
    plan = {"type": "plan", "title": "Research", "tasks": [task]}
    assert client.chat_postMessage(channel="C_GENERAL", text="plan", blocks=[plan])["ok"]


def test_file_input_needs_between_one_and_ten_files(
    running: RunningSandbox, client: WebClient
) -> None:
    def modal(max_files: int) -> dict[str, Any]:
        element = {"type": "file_input", "action_id": "rows", "max_files": max_files}
        return {
            "type": "modal",
            "callback_id": "batch",
            "title": {"type": "plain_text", "text": "Batch"},
            "submit": {"type": "plain_text", "text": "Run"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "rows_block",
                    "label": {"type": "plain_text", "text": "Rows"},
                    "element": {**element, "filetypes": ["csv", "jsonl"]},
                }
            ],
        }

    trigger = running.state.new_trigger_id("U_REQUESTER")
    with pytest.raises(SlackApiError) as info:
        client.views_open(trigger_id=trigger, view=modal(11))
    assert "[json-pointer:/view/blocks/0/element/max_files]" in str(
        info.value.response["response_metadata"]["messages"]
    )
    opened = client.views_open(trigger_id=trigger, view=modal(1))["view"]
    assert opened["blocks"][0]["element"]["type"] == "file_input"
