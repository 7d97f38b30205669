"""Property tests: every renderer, fed hostile text, keeps Block Kit's limits, pings
nobody it was not meant to, loses nothing of a result, and never raises.

Hostile text: mentions and broadcasts, `&<>`-dense runs, emoji, right-to-left scripts,
NUL and other control characters, lone surrogates, outputs of up to 50,000 characters,
very long words and URLs, and Markdown headings, links, bold and code fences.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.blocks import thread
from bot.blocks.card import card
from bot.blocks.home import home_view
from bot.blocks.lists import job_list
from bot.blocks.oncall import oncall_alert
from bot.blocks.people import actor
from bot.blocks.result import file_comment, result_messages
from bot.blocks.review import approval_request, closed_request, decided_request, decision_line
from bot.blocks.settings_modal import saved_line
from bot.blocks.tasks import TITLE_MAX, task_title, task_update
from bot.blocks.text import SECTION_CHARS, chunks, fit, mrkdwn
from models.job import Job
from models.kinds import load_kinds
from sandbox.slack_stream_blocks import checked_chunks
from tests.test_blocks_kit import (
    all_text,
    allowed_pings,
    check_line,
    check_message,
    check_mrkdwn,
    check_view,
    make_job,
    pings,
    utf16,
)

# Modest and deterministic: the suite stays quick, and a failure reproduces.
QUICK = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FRAGMENTS = [
    "<@U123>", "<!channel>", "<!here>", "<!everyone>", "<!subteam^S1|@team>", "<!subteam^S1>",
    "@here", "@channel", "@everyone", "@HERE", "<#C123|general>", "<!date^1^{time}|x>",
    "<https://evil.example|click>", "&", "<", ">", "&amp;", "&lt;", "&gt", "|", "*", "_", "~",
    "`", "```", "```python\n", "# ", "## Heading **bold**\n", "**bold**", "- item\n", "> quote",
    "[link](https://example.com/a?b=1&c=<2>)", "[x](https://e.com/a|b)", "\n", "\n\n", " ",
    "\t", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\ud800", "\r\n", "\r", "😀",
    "👩\u200d💻", "🇺🇳", "שלום עולם", "مرحبا بالعالم", "\u202e", "\u200b", "é", "ﷺ",
    "a" * 4_000, "https://example.com/" + "x" * 4_000, "word " * 50, "&<>" * 1_500, "<" * 3_000,
    ("[see this](https://example.com/" + "p" * 60 + ")") * 80, "**[b](https://e.com/b)** " * 60,
]  # fmt: skip
fragments = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20))
hostile = st.lists(fragments, max_size=25).map("".join)
huge = st.builds(
    lambda piece, times: (piece * times)[:50_000],
    hostile.filter(bool),
    st.integers(min_value=1, max_value=5_000),
)
outside = st.one_of(hostile, hostile, huge)
maybe = st.one_of(st.none(), outside)
actors = st.one_of(
    st.sampled_from(["U_REQ", "W0ABC123", "cli", "cli:ops", "errand", "provider", None]),
    hostile,
)
moments = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)
later = st.integers(min_value=0, max_value=10**7).map(lambda s: timedelta(seconds=s))
STATUSES = [
    "queued", "running", "needs_review", "completed", "failed", "canceled", "expired", "rejected",
]  # fmt: skip
titles = st.one_of(st.just("Research"), hostile)
urls = st.one_of(st.just("https://example.com/a"), st.text().map(lambda t: "https://e.com/" + t))
citations = st.lists(
    st.fixed_dictionaries({"url": st.one_of(urls, outside), "title": maybe}), max_size=4
)


@st.composite
def jobs(draw: Any, *, plain_result: bool = False) -> Job:
    """Any job a renderer might be handed, outside text hostile everywhere."""
    created = draw(moments)
    started = draw(st.one_of(st.none(), later.map(lambda d: created + d)))
    error = draw(st.one_of(maybe, outside.map(lambda t: "incomplete: " + t)))
    return make_job(
        status=draw(st.sampled_from(STATUSES)),
        requested_by=draw(actors) or "U_REQ",
        input_text=draw(outside),
        output_text=draw(maybe),
        output=None if plain_result else {"citations": draw(citations)},
        error=None if plain_result else error,
        wait_reason=draw(maybe),
        decision_note=draw(maybe),
        decided_by=draw(actors),
        decided_at=draw(st.one_of(st.none(), moments)),
        stop_requested=draw(st.sampled_from([None, "cancel", "expire"])),
        stop_requested_by=draw(actors),
        created_at=created,
        started_at=started,
        finished_at=draw(st.one_of(st.none(), later.map(lambda d: (started or created) + d))),
        last_checked_at=draw(st.one_of(st.none(), moments)),
        attempts=draw(st.integers(min_value=0, max_value=5)),
    )


def _people(job: Job) -> set[str]:
    return allowed_pings(job.requested_by, job.decided_by, job.stop_requested_by)


@QUICK
@given(job=jobs(), title=titles)
def test_any_card_is_valid_and_pings_nobody(job: Job, title: str) -> None:
    text, blocks = card(job, title, datetime.now(UTC))
    check_message(text, blocks)
    assert pings(all_text(text, blocks)) <= _people(job)


@settings(QUICK, max_examples=15)  # each example renders up to 17 jobs
@given(rows=st.lists(jobs(), max_size=17), title=titles, user=actors)
def test_any_list_and_home_tab_is_valid_and_pings_nobody(
    rows: list[Job], title: str, user: str | None
) -> None:
    text, blocks = job_list(title, rows)
    check_message(text, blocks)
    people = set().union(*(_people(job) for job in rows), allowed_pings(user))
    assert pings(all_text(text, blocks)) <= people
    view = home_view(user or "U_REQ", rows)
    check_view(view)
    assert pings(all_text("", view["blocks"])) <= people | allowed_pings("U_REQ")


@QUICK
@given(job=jobs(), title=titles, link=st.one_of(st.none(), urls))
def test_any_review_request_and_decision_is_valid_and_pings_nobody(
    job: Job, title: str, link: str | None
) -> None:
    shown = (
        approval_request(job, title, link),
        decided_request(job, title, link),
        closed_request(job, title),
    )
    for text, blocks in shown:
        check_message(text, blocks)
        assert pings(all_text(text, blocks)) <= _people(job)
    check_line(decision_line(job))


@QUICK
@given(job=jobs())
def test_any_result_is_valid_in_every_part_and_pings_nobody(job: Job) -> None:
    heading = f"Result of job {job.id}"
    for message in result_messages(job, heading):
        check_message(message.text, message.blocks)
        assert not pings(all_text(message.text, message.blocks))
    check_line(file_comment(job, heading))


@QUICK
@given(job=jobs(plain_result=True))
def test_nothing_of_a_result_is_lost(job: Job) -> None:
    """The result's sections, as a reader sees them, hold every word of the output in
    order (mrkdwn adds and drops only punctuation: `**`, `#`, bullets, link brackets)."""
    messages = result_messages(job, "Result")
    sections = [b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section"]
    output = job.output_text or ""
    expected = output if output.strip() else "_(the model returned no text)_"
    assert _letters(_as_read("".join(sections))) == _letters(expected)


@QUICK
@given(job=jobs(), now=moments, preview=outside, chars=st.integers(min_value=0))
def test_any_thread_line_and_alert_is_valid_and_pings_nobody(
    job: Job, now: datetime, preview: str, chars: int
) -> None:
    lines = [
        thread.started(job, job.lane),
        thread.still_running(job, now),
        thread.progress({"chars": chars, "preview": preview}),
        thread.canceling(job),
        thread.retrying(job),
        thread.failed(job),
        thread.canceled(job),
        thread.expired(job),
        thread.escalated(job.requested_by),
    ]
    for line in lines:
        check_line(line)
        assert pings(line) <= _people(job)
    for by in (None, job.requested_by):
        text, blocks = oncall_alert(job, "Research", now, escalated_by=by)
        check_message(text, blocks)
        assert pings(all_text(text, blocks)) <= _people(job)


@QUICK
@given(who=st.one_of(actors, st.text()))
def test_an_actor_is_a_mention_of_that_id_or_plain_text(who: str | None) -> None:
    shown = actor(who)
    assert shown == f"<@{who}>" or ("<" not in shown and not pings(shown))


@QUICK
@given(text=outside, limit=st.integers(min_value=1, max_value=3_000), markdown=st.booleans())
def test_fit_stays_within_its_limit_as_slack_counts(text: str, limit: int, markdown: bool) -> None:
    for fitted in (fit(text, limit, markdown=markdown), fit(text, limit, keep_end=True)):
        assert utf16(fitted) <= limit
        if fitted.strip():
            check_mrkdwn(fitted)
        assert not pings(fitted)


@QUICK
@given(text=outside)
def test_chunks_keep_every_word_within_the_section_limit(text: str) -> None:
    safe = mrkdwn(text)
    pieces = chunks(safe)
    for piece in pieces:
        assert utf16(piece) <= SECTION_CHARS
        check_mrkdwn(piece)
    assert _letters("".join(pieces)) == _letters(safe)


_LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>")


def _as_read(mrkdwn_text: str) -> str:
    """What a reader sees: a link's label before its URL, entities decoded."""
    return html.unescape(_LINK.sub(r"\2 \1", mrkdwn_text))


def _letters(text: str) -> str:
    """The word characters of `text`, in order: what must survive rendering."""
    return "".join(re.findall(r"\w", text))


@QUICK
@given(query=maybe, kind=st.sampled_from(["thinking", "searching", "writing", "other"]))
def test_any_task_card_title_is_one_safe_line_that_pings_nobody(
    query: str | None, kind: str
) -> None:
    title = task_title(kind, query)
    assert 0 < utf16(title) <= TITLE_MAX
    assert title == " ".join(title.split()), "one line, no control characters"
    check_mrkdwn(title)
    assert not pings(title)
    step = {"n": 3, "kind": kind, "status": "in_progress", "query": query}
    assert checked_chunks([task_update(step, 12_345)])  # as the Slack stand-in checks them


@QUICK
@given(user=actors, title=outside, values=st.lists(maybe, min_size=3, max_size=3))
def test_any_channel_defaults_line_is_valid_and_pings_only_who_set_them(
    user: str | None, title: str, values: list[str | None]
) -> None:
    kind = load_kinds().kinds["research"].model_copy(update={"title": title})
    chosen = {"research": dict(zip(("model", "effort", "tier"), values, strict=True))}
    line = saved_line(user or "U_REQ", {"research": kind}, chosen)
    check_line(line)
    assert pings(line) <= allowed_pings(user or "U_REQ")
