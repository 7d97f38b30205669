"""Every rendered message, checked as Slack would check it: slack_sdk's Block Kit models
plus the documented limits those models leave out (non-empty texts, context elements,
button labels, message `text`), and mrkdwn that is well formed (no dangling `<`, no
half entity) and pings nobody it was not meant to.

The helpers here are shared with the property tests in `test_blocks_hostile.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.blocks import thread
from bot.blocks.batch_modal import batch_modal, reading_modal, started_modal
from bot.blocks.card import card
from bot.blocks.home import home_view
from bot.blocks.lists import job_list
from bot.blocks.oncall import oncall_alert
from bot.blocks.result import file_comment, result_messages
from bot.blocks.review import approval_request, decided_request, decision_line, reject_modal
from models.job import Job

SECTION_MAX = 3_000
CONTEXT_MAX = 2_000
HEADER_MAX = 150
BUTTON_MAX = 75
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
TEXT_MAX = 4_000
MESSAGE_BLOCK_TEXT_MAX = 12_000  # what Slack reportedly refuses beyond (msg_blocks_too_long)
T0 = datetime(2025, 3, 4, 15, 22, 0, tzinfo=UTC)

_SPECIAL = re.compile(r"<([^<>|]*)(?:\|[^<>]*)?>")
_KNOWN = re.compile(r"[@#]|!date\^\d+\^|!(channel|here|everyone|subteam\^)|https?://")
_QUOTE = re.compile(r"^> ", re.MULTILINE)
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_USER_ID = re.compile(r"[UW][A-Z0-9_]{1,40}")


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def make_job(**fields: Any) -> Job:
    """A job as the store would hand it to a renderer; `fields` override the defaults."""
    values: dict[str, Any] = {
        "id": "J1",
        "kind": "research",
        "lane": "background",
        "status": "completed",
        "requested_by": "U_REQ",
        "input_text": "What changed?",
        "attempts": 1,
        "max_attempts": 3,
        "model": "o3-deep-research",
        "output_text": "An answer.",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    return Job(**values)


def texts_of(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every text object (`{"type": "mrkdwn"|"plain_text", "text": …}`) under `node`."""
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and "text" in node:
            yield str(node["type"]), node
        for value in node.values():
            yield from texts_of(value)
    elif isinstance(node, list):
        for item in node:
            yield from texts_of(item)


def check_mrkdwn(text: str) -> None:
    """Well-formed mrkdwn: every `<` closed by its `>`, every `&` an entity (a `>` that
    starts a line is a block quote)."""
    assert text.strip(), "Slack refuses an empty text"
    for special in _SPECIAL.finditer(text):
        assert _KNOWN.match(special.group(1)), f"not a mention, date or link: {special.group(0)}"
    outside = _SPECIAL.sub("", _QUOTE.sub("", text))
    assert "<" not in outside and ">" not in outside, f"dangling angle bracket in {text[:200]!r}"
    assert "&" not in re.sub(r"&(amp|lt|gt);", "", text), f"half an entity in {text[:200]!r}"
    assert "\x00" not in text


def check_block(block: dict[str, Any], limit_context: int = CONTEXT_MAX) -> None:
    """slack_sdk's own validation, nothing it does not know, and the limits it skips."""
    parsed = Block.parse(block)
    assert parsed is not None, f"unknown block {block}"
    parsed.validate_json()
    assert parsed.to_dict() == block, "a field slack_sdk does not know, or an empty one"
    kind = block["type"]
    if kind == "section":
        assert utf16(block["text"]["text"]) <= SECTION_MAX
    if kind == "context":
        assert all(utf16(e["text"]) <= limit_context for e in block["elements"])
    if kind == "header":
        assert utf16(block["text"]["text"]) <= HEADER_MAX
    if kind == "actions":
        assert all(utf16(e["text"]["text"]) <= BUTTON_MAX for e in block["elements"])
    for type_, obj in texts_of(block):
        if type_ == "mrkdwn":
            check_mrkdwn(obj["text"])
        else:
            assert obj["text"].strip()


def check_message(text: str, blocks: list[dict[str, Any]]) -> None:
    """A chat.postMessage / chat.update body Slack accepts."""
    check_line(text)
    assert 1 <= len(blocks) <= MESSAGE_BLOCKS_MAX
    for block in blocks:
        check_block(block)
    total = sum(utf16(obj["text"]) for _, obj in texts_of(blocks))
    assert total <= MESSAGE_BLOCK_TEXT_MAX


def check_line(text: str) -> None:
    """A message's `text` (alone, or the fallback of blocks)."""
    assert 0 < utf16(text) <= TEXT_MAX
    check_mrkdwn(text)


def check_view(view: dict[str, Any]) -> None:
    """A modal or Home tab Slack accepts, checked by slack_sdk's view model."""
    model = View(**view)
    model.validate_json()
    assert model.to_dict() == view
    assert len(view["blocks"]) <= VIEW_BLOCKS_MAX
    for block in view["blocks"]:
        if block["type"] != "input":
            check_block(block)


def pings(text: str) -> set[str]:
    """Every mention or broadcast Slack would act on in `text` (dates are not pings)."""
    found = {m.group(0) for m in _SPECIAL.finditer(text) if m.group(1)[:1] in "@!"}
    found = {p for p in found if not p.startswith("<!date^")}
    return found | {m.group(0) for m in _BROADCAST.finditer(text)}


def allowed_pings(*actors: str | None) -> set[str]:
    """The mentions a renderer may write: the people the job names by Slack user ID."""
    return {f"<@{a}>" for a in actors if a and _USER_ID.fullmatch(a)}


def all_text(text: str, blocks: list[dict[str, Any]]) -> str:
    return "\n".join([text, *(obj["text"] for _, obj in texts_of(blocks))])


# -- every message type, ordinary and worst case ---------------------------------------


def _worst(**fields: Any) -> Job:
    """A job whose every outside text is as long and as `&<>`-dense as it can be."""
    hostile = "<!channel> & <@U999> " * 3_000
    values: dict[str, Any] = {
        "input_text": hostile,
        "output_text": "&<>" * 20_000,
        "error": hostile,
        "wait_reason": hostile,
        "decision_note": "<" * 2_000,
        "decided_by": "U_APPROVER",
        "decided_at": T0,
        "started_at": T0,
        "finished_at": T0 + timedelta(minutes=3),
        "output": {"citations": [{"url": "https://e.com/" + "x" * 5_000, "title": hostile}]},
    }
    values.update(fields)
    return make_job(**values)


STATUSES = ["queued", "running", "needs_review", "completed", "failed", "canceled", "expired"]


def test_cards_of_every_status_pass_block_kit_validation() -> None:
    for status in STATUSES:
        for job in (make_job(status=status), _worst(status=status, stop_requested="cancel")):
            text, blocks = card(job, "Research", T0)
            check_message(text, blocks)
            assert pings(all_text(text, blocks)) <= allowed_pings(job.requested_by)


def test_review_request_with_a_code_heavy_draft_passes_validation() -> None:
    """The preview was clipped and then escaped: `&<>`-dense drafts reached 6,000."""
    job = _worst(status="needs_review")
    text, blocks = approval_request(job, "Draft", "https://x.slack.com/archives/C1/p1")
    check_message(text, blocks)
    text, blocks = decided_request(_worst(status="rejected"), "Draft", None)
    check_message(text, blocks)
    assert pings(all_text(text, blocks)) <= allowed_pings("U_REQ", "U_APPROVER")


def test_a_rejection_full_of_angle_brackets_can_be_told() -> None:
    """A 2,000-character reason of `<` escaped to 8,000 and was never delivered."""
    line = decision_line(_worst(status="rejected"))
    check_line(line)
    assert utf16(line) <= CONTEXT_MAX


def test_lists_and_home_pass_validation() -> None:
    jobs = [_worst(id=f"J{i}", status=STATUSES[i % len(STATUSES)]) for i in range(40)]
    check_message(*job_list("All jobs", jobs, T0))
    check_message(*job_list("All jobs", [], T0))
    check_view(home_view("U_REQ", jobs, T0))
    check_view(home_view("U_REQ", [], T0))


def test_reject_modal_passes_view_validation() -> None:
    check_view(reject_modal("J1", "C_APPROVALS", "1700000000.000100"))


def test_oncall_alerts_pass_validation() -> None:
    now = T0 + timedelta(hours=2)
    for by in (None, "U_REQUESTER"):
        text, blocks = oncall_alert(_worst(status="running"), "Research", now, escalated_by=by)
        check_message(text, blocks)


def test_batch_modals_pass_view_validation_and_ping_nobody() -> None:
    """The form (prefilled past Slack's 3,000-character input, with a refusal that quotes
    the file), the wait and the started job, with the most hostile file name."""
    meta = '{"channel": "C1", "response_url": "https://hooks.slack.com/commands/T1/1/x"}'
    hostile = "<!channel> & <@U999> " * 300
    views = [
        batch_modal(meta),
        batch_modal(meta, instructions="x" * 9_000, max_chars=8_000, problem=hostile),
        reading_modal(hostile),
        started_modal("J1", 50_000, hostile, "C1"),
        started_modal("J1", 1, "a.csv", None),
    ]
    for view in views:
        check_view(view)
        assert pings(all_text("", view["blocks"])) == set()
    field = views[1]["blocks"][-1]["element"]
    assert field["max_length"] == 3_000 and len(field["initial_value"]) == 3_000


def test_results_pass_validation_in_every_part() -> None:
    for job in (make_job(), _worst(), _worst(output_text="word " * 11_000)):
        for message in result_messages(job, f"Result of job {job.id}"):
            check_message(message.text, message.blocks)
    check_line(file_comment(_worst(error="incomplete: cut"), "Result of job J1"))


def test_thread_lines_are_short_well_formed_and_ping_nobody() -> None:
    job = _worst(status="failed", stop_requested_by="cli:ops")
    lines = [
        thread.started(job, "background"),
        thread.still_running(job, T0 + timedelta(minutes=5)),
        thread.progress({"chars": 12_000, "preview": "&<@U9> " * 500}),
        thread.canceling(job),
        thread.retrying(job),
        thread.failed(job),
        thread.canceled(job),
        thread.expired(job),
        thread.review_pending("C_APPROVALS"),
        thread.review_pending(None),
        thread.cannot_post("C_GENERAL"),
    ]
    for line in lines:
        check_line(line)
        assert not pings(line)
