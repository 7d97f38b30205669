"""Results arrive whole, through rate limits, and even where the bot cannot post."""

from __future__ import annotations

import json

import pytest

from bot.blocks.text import mrkdwn
from tests.support.client import HTTP
from tests.support.procs import wait_for
from tests.support.slack import BotProcess, card_text, job_id_of
from tests.support.stack import LONG_ANSWER_TOKENS, Stack
from tests.test_bot_flow import card_showing, replies_with


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_long_result_arrives_whole(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/research", "Tell me everything [sandbox: chars=20000] [sandbox: duration=1]")
    card = card_showing(bot, "C_GENERAL", "Completed")
    job_id = job_id_of(card)
    replies_with(bot, "C_GENERAL", "Result of job")
    output = stack.show(job_id)["output_text"]
    assert len(output) >= 20_000

    def posted() -> str:
        """Every section of the result's messages so far (its parts go out one by one)."""
        replies = bot.slack.card("C_GENERAL")["replies"]
        return "\n".join(
            b["text"]["text"]
            for reply in replies
            if "Result of job" in reply.get("text", "")
            for b in reply["blocks"]
            if b["type"] == "section"
        )

    wait_for(lambda: _squash(mrkdwn(output)) in _squash(posted()), 30, "result not whole")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_rate_limit_storm_loses_no_update(stack: Stack, bot: BotProcess) -> None:
    bot.slack.fault(method="chat.update", status=429, count=8, retry_after=1)
    stack.start_worker()
    bot.command("/research", "Quick one [sandbox: duration=1]")
    card = card_showing(bot, "C_GENERAL", "Completed", timeout=60)
    stack.wait_status(job_id_of(card), "completed")
    statuses = [c["status"] for c in bot.slack.calls("chat.update")]
    assert statuses.count(429) == 8 and statuses[-1] == 200


def test_channel_without_the_bot_still_answers(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/research", "Where am I? [sandbox: duration=1]", channel="C_NOBOT")
    wait_for(
        lambda: any("/invite @Errand" in t for t in bot.slack.ephemeral("C_NOBOT", "U_REQUESTER")),
        20,
        "no response_url answer",
    )
    wait_for(lambda: bot.slack.calls("conversations.open"), 10, "no DM opened")
    dm = json.dumps(bot.slack.calls("conversations.open"))
    assert "U_REQUESTER" in dm
    ids = [j for j in _job_ids(stack)]
    [job_id] = ids
    stack.wait_status(job_id, "completed", timeout=30)
    channel = stack.show(job_id)["channel_id"]
    assert channel.startswith("D")
    card_showing(bot, channel, "Completed")
    replies_with(bot, channel, "Result of job")


def _job_ids(stack: Stack) -> list[str]:
    listed = stack.cli("jobs", "list", "--json")
    return [j["id"] for j in json.loads(listed.stdout)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.kinds(max_output_tokens=LONG_ANSWER_TOKENS)
def test_very_long_result_is_uploaded_whole_as_a_file(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/research", "The whole archive [sandbox: chars=70000 duration=1]")
    card = card_showing(bot, "C_GENERAL", "Completed")
    output = stack.show(job_id_of(card))["output_text"]
    wait_for(lambda: bot.slack.calls("files.completeUploadExternal"), 20, "no file shared")
    files = [f for reply in bot.slack.card("C_GENERAL")["replies"] for f in reply.get("files", [])]
    assert len(files) == 1 and files[0]["name"].endswith(".md")
    shared = HTTP.get(f"{bot.slack.url}/_sandbox/files/{files[0]['id']}", timeout=10)
    assert shared.text == output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.kinds(max_output_tokens=LONG_ANSWER_TOKENS)
def test_result_cut_off_by_slack_part_way_is_finished_without_repeats(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    bot.command("/research", "Tell me everything [sandbox: chars=55000 duration=3]")
    card = card_showing(bot, "C_GENERAL", "Running")
    bot.slack.fault(method="chat.postMessage", status=503, count=3, after=1)
    card = card_showing(bot, "C_GENERAL", "Completed", timeout=60)
    replies_with(bot, "C_GENERAL", "Result of job", timeout=60)
    output = stack.show(job_id_of(card))["output_text"]
    wait_for(lambda: _squash(mrkdwn(output)) in _squash(_result_text(bot)), 60, "result not whole")
    parts = [r["text"] for r in bot.slack.card("C_GENERAL")["replies"] if "Result of" in r["text"]]
    assert len(parts) == len(set(parts)) == int(parts[0].rsplit(" ", 1)[1].rstrip(")"))
    assert len(_squash(_result_text(bot))) < 1.2 * len(_squash(mrkdwn(output)))  # nothing twice


def _result_text(bot: BotProcess) -> str:
    """The sections of every thread reply after the result's first message."""
    replies = bot.slack.card("C_GENERAL").get("replies") or []
    start = next((i for i, r in enumerate(replies) if "Result of job" in r.get("text", "")), None)
    if start is None:
        return ""
    return "\n".join(
        b["text"]["text"]
        for reply in replies[start:]
        for b in reply.get("blocks") or []
        if b["type"] == "section"
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_answer_the_provider_cut_off_is_delivered_marked_cut_off(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    bot.command("/research", "Cut short [sandbox: duration=1 incomplete=content_filter]")
    card = card_showing(bot, "C_GENERAL", "Completed")
    shown = stack.show(job_id_of(card))
    assert shown["output_text"] and "content filter" in shown["error"]
    assert "content filter" in card_text(card)
    [result] = [t for t in replies_with(bot, "C_GENERAL", "Result of job") if "Result of" in t]
    assert "Cut off" in result and "content filter" in result
