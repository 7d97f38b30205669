"""Rendering that must hold for any model output: nobody pinged, nothing cut, limits kept."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.blocks.result import result_messages
from bot.blocks.text import SECTION_CHARS, chunks, mrkdwn
from models.job import Job


def _job(output: str) -> Job:
    now = datetime.now(UTC)
    return Job(
        id="J1", kind="research", lane="background", status="completed", requested_by="U1",
        input_text="q", attempts=1, max_attempts=3, model="m", output_text=output,
        output={"citations": [{"url": "https://example.com/a", "title": "A <b>"}]},
        created_at=now, updated_at=now,
    )  # fmt: skip


def test_mentions_are_neutralized() -> None:
    text = mrkdwn("Hi <!channel> <!here> <!everyone> @channel @here <!subteam^S1|@x> <@U123>")
    for dangerous in ("<!", "<@", "@channel", "@here"):
        assert dangerous not in text


def test_markdown_links_become_slack_links() -> None:
    assert mrkdwn("See [docs](https://x.io/a) **now**") == "See <https://x.io/a|docs> *now*"


def test_long_text_is_split_without_loss() -> None:
    text = "\n\n".join(f"Paragraph {i} " + "word " * 300 for i in range(30))
    pieces = chunks(text)
    assert all(len(p) <= SECTION_CHARS for p in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())


def test_result_messages_stay_within_block_kit_limits() -> None:
    messages = result_messages(_job("line of text\n" * 8000), "Result")
    assert len(messages) > 1
    for message in messages:
        assert len(message.blocks) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in message.blocks if b["type"] == "section")
    assert "https://example.com/a|A &lt;b&gt;" in str(messages[-1].blocks)


def test_bold_inside_a_heading_stays_one_bold_run() -> None:
    assert mrkdwn("## Brief: **key** facts") == "*Brief: key facts*"
