"""Rendering that must hold for any model output: nobody pinged, nothing cut, limits kept."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.blocks import thread
from bot.blocks.card import card
from bot.blocks.home import home_view
from bot.blocks.lists import job_list
from bot.blocks.people import actor
from bot.blocks.result import file_comment, result_messages
from bot.blocks.review import decision_line
from bot.blocks.text import SECTION_CHARS, chunks, fit, mrkdwn
from models.job import Job
from tests.test_blocks_kit import T0, check_mrkdwn, utf16


def _job(text: str = "An answer.", **fields: Any) -> Job:
    values: dict[str, Any] = {
        "id": "J1", "kind": "research", "lane": "background", "status": "completed",
        "requested_by": "U1", "input_text": "q", "attempts": 1, "max_attempts": 3, "model": "m",
        "output_text": text,
        "output": {"citations": [{"url": "https://example.com/a", "title": "A <b>"}]},
        "created_at": T0, "updated_at": T0,
    }  # fmt: skip
    return Job(**{**values, **fields})


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


# -- who did it ---------------------------------------------------------------------------


def test_actors_read_as_people_read_them() -> None:
    assert actor("U_APPROVER") == "<@U_APPROVER>"
    assert actor("W0123ABC") == "<@W0123ABC>"
    assert actor("cli:ops") == actor("cli") == "an operator (CLI)"
    assert actor("errand") == "Errand"
    assert actor("provider") == "the AI provider"
    assert actor("<!channel> x") == "&lt;!channel&gt; x"


def test_cli_actions_do_not_show_as_a_broken_mention() -> None:
    job = _job(status="canceled", requested_by="cli", stop_requested_by="cli:ops")
    assert thread.canceled(job) == ":no_entry_sign: Canceled by an operator (CLI)."
    assert thread.canceling(job) == ":octagonal_sign: Cancel requested by an operator (CLI)."
    shown = card(job, "Research", T0)[1][0]["text"]["text"] + str(job_list("Jobs", [job], T0)[1])
    assert "an operator (CLI)" in shown and "<@cli" not in shown


def test_a_decision_names_the_approver() -> None:
    job = _job(status="completed", decided_by="U_APPROVER", decided_at=T0)
    assert decision_line(job).startswith(":white_check_mark: Approved by <@U_APPROVER> <!date^")


# -- when -------------------------------------------------------------------------------


def test_a_running_card_shows_when_it_started_in_the_readers_time_zone() -> None:
    job = _job(status="running", started_at=T0 + timedelta(seconds=2))
    header = card(job, "Research", T0)[1][0]["text"]["text"]
    stamp = int(T0.timestamp()) + 2
    assert f"<!date^{stamp}^started {{time}}|started 15:22 UTC>" in header
    assert "Elapsed" not in header


def test_a_card_does_not_go_stale_between_milestones() -> None:
    job = _job(status="running", started_at=T0)
    assert card(job, "Research", T0 + timedelta(seconds=2)) == card(
        job, "Research", T0 + timedelta(seconds=90)
    )


def test_queued_and_finished_cards_show_when_asked_and_how_long_it_took() -> None:
    queued = card(_job(status="queued"), "Research", T0)[1][0]["text"]["text"]
    assert f"<!date^{int(T0.timestamp())}^asked {{time}}|asked 15:22 UTC>" in queued
    done = _job(status="completed", started_at=T0, finished_at=T0 + timedelta(minutes=2, seconds=5))
    assert "took 2m 05s" in card(done, "Research", T0 + timedelta(hours=1))[1][0]["text"]["text"]


def test_list_rows_show_the_same_times_as_cards() -> None:
    job = _job(status="running", started_at=T0)
    row = job_list("Jobs", [job], T0 + timedelta(minutes=5))[1][1]["text"]["text"]
    assert f"<!date^{int(T0.timestamp())}^started {{time}}|started 15:22 UTC>" in row


# -- outside text: escaped first, then cut ----------------------------------------------


def test_fit_measures_the_escaped_text_and_never_cuts_an_entity() -> None:
    for limit in range(1, 40):
        fitted = fit("a&<b> " * 20, limit)
        assert utf16(fitted) <= limit
        check_mrkdwn(fitted)


def test_fit_counts_emoji_as_slack_may_and_keeps_the_end_when_asked() -> None:
    assert utf16(fit("😀" * 3_000, 2_000)) <= 2_000
    tail = fit("start " + "x&y " * 500 + "the end", 100, keep_end=True)
    assert tail.startswith("…") and tail.endswith("the end") and utf16(tail) <= 100
    check_mrkdwn(tail)


def test_a_long_run_of_links_is_split_between_links() -> None:
    text = mrkdwn("".join(f"[source {i}](https://example.com/{i}/{'a' * 40})" for i in range(300)))
    pieces = chunks(text)
    assert len(pieces) > 1
    for piece in pieces:
        assert utf16(piece) <= SECTION_CHARS
        check_mrkdwn(piece)


def test_a_code_block_split_across_sections_stays_a_code_block() -> None:
    pieces = chunks(mrkdwn("```\n" + "x = compute(a, b)  # step\n" * 400 + "```"))
    assert len(pieces) > 1
    assert all(piece.count("```") % 2 == 0 for piece in pieces)
    assert all(piece.startswith("```") and piece.endswith("```") for piece in pieces)


def test_control_characters_never_reach_slack() -> None:
    job = _job("a\x00b\x1bc\x7fd\r\ne", input_text="q\x00?")
    rendered = str([m.blocks for m in result_messages(job, "Result")]) + str(card(job, "R")[1])
    for char in ("\x00", "\x1b", "\x7f", "\r"):
        assert char not in rendered


def test_the_home_tab_hint_shows_its_angle_brackets() -> None:
    hint = home_view("U_REQ", [])["blocks"][1]["elements"][0]["text"]
    assert "`/research &lt;question&gt;`" in hint


def test_result_sections_hold_the_whole_output() -> None:
    output = "\n\n".join(f"Paragraph {i}: " + "fact & <figure> " * 200 for i in range(12))
    messages = result_messages(_job(output, output=None), "Result")
    sections = [b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section"]
    assert "".join("".join(sections).split()) == "".join(mrkdwn(output).split())


def test_a_long_result_is_posted_in_messages_slack_accepts_whole() -> None:
    """Slack refuses a message whose blocks hold more than about 12,000 characters of
    text (msg_blocks_too_long), whatever each section's own limit."""
    output = "\n\n".join(f"Paragraph {i}: " + "fact and figure " * 150 for i in range(20))
    messages = result_messages(_job(output, output=None), "Result")
    assert len(messages) > 1
    for message in messages:
        shown = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
        assert sum(utf16(text) for text in shown) <= 10_000


# -- an answer the provider cut off ----------------------------------------------------------


def test_a_cut_off_answer_says_so_at_its_top() -> None:
    job = _job(
        "The first half of the answer",
        status="failed",
        error="incomplete: the answer was cut off at the output limit",
    )
    first = result_messages(job, "Result of job J1")[0].blocks
    assert first[1]["text"]["text"].startswith(
        ":warning: *Cut off:* the answer was cut off at the output limit."
    )
    assert first[2]["text"]["text"] == "The first half of the answer"
    assert "cut off" in file_comment(job, "Result of job J1")


def test_a_whole_answer_has_no_cut_off_note() -> None:
    for job in (_job(), _job("", error="incomplete: stopped"), _job(error="the provider failed")):
        assert "Cut off" not in str(result_messages(job, "Result")[0].blocks)


def test_what_a_job_cost_shows_on_its_card_and_in_job_lists_once_charged() -> None:
    def shown(cost: float | None) -> tuple[str, str]:
        job = _job(cost_usd=cost)
        text = json.dumps(card(job, "Research")[1])
        return text, json.dumps(job_list("Your jobs", [job])[1])

    assert all("$0.26" in text for text in shown(0.2641))
    assert all("<$0.01" in text for text in shown(0.0004))
    assert not any("$" in text for text in shown(None) + shown(0.0))
