"""`errand console`, the operator's web console, as an operator's browser and scripts use
it: a real `errand console` process over HTTP against a real database, with the jobs made
by the store (and by a real worker talking to the provider stand-in where a job must have
run). The browser test is in tests/test_console_browser.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from bot.blocks import card as bot_card
from bot.blocks import controls as bot_controls
from bot.blocks.people import actor
from bot.ids import ActionId
from console import card as console_card
from console.app import create_app
from console.auth import COOKIE, Guard
from console.config import ConsoleConfig
from models.job import Job, jobs, notices
from models.status import JobStatus
from models.store import queries, stops
from models.store.lifecycle import add_notice, record_event
from models.store.submission import submit
from tests.support.browser import CHROMIUM_ARGS, chromium_path, start_sandbox, stop_sandbox
from tests.support.client import HTTP
from tests.support.procs import ROOT, free_port, spawn, stop, wait_for, wait_http
from tests.support.stack import Stack

ONE_BACKEND = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
OPERATOR = "alice"
TOKEN = "console-token-for-the-tests-0123456789"


@dataclass
class Console:
    """A running `errand console` and a client that keeps its cookies, as a browser does."""

    url: str
    process: subprocess.Popen[bytes]
    client: httpx.Client

    def page(self, path: str, **params: str | int) -> str:
        answer = self.client.get(path, params=params or None)
        assert answer.status_code == 200, answer.text[:500]
        return answer.text

    def press(self, job_id: str, action: str) -> httpx.Response:
        """The button on the job's page, as the browser submits its form."""
        form = {"csrf": csrf(self.page(f"/jobs/{job_id}"))}
        return self.client.post(f"/jobs/{job_id}/{action}", data=form, headers=self.origin)

    @property
    def origin(self) -> dict[str, str]:
        return {"Origin": self.url}


def start_console(stack: Stack, log: Path, *args: str, **env: str) -> Console:
    port = free_port()
    process = spawn(
        ["-m", "errand.cli", "console", "--port", str(port), *args],
        {**stack.env, "ERRAND_CONSOLE_OPERATOR": OPERATOR, **env},
        log,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/static/console.css")
    return Console(url, process, httpx.Client(base_url=url, timeout=30))


@pytest.fixture
def console(stack: Stack, tmp_path: Path) -> Iterator[Console]:
    running = start_console(stack, tmp_path / "console.log")
    yield running
    running.client.close()
    stop(running.process)


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-job="([^"]+)"', html)


def count(html: str) -> str:
    found = re.search(r'<p class="count" id="count">([^<]*)</p>', html)
    assert found, html[:2000]
    return " ".join(found.group(1).split())


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    return found.group(1) if found else ""


def said(html: str) -> str:
    found = re.search(r'id="said">([^<]*)<', html)
    return unescape(found.group(1)) if found else ""


def timeline(html: str) -> list[tuple[str, str]]:
    """(actor, action) of each event on a job's page, oldest first."""
    cells = re.findall(r'<td class="actor">([^<]*)</td><td class="action">([^<]*)</td>', html)
    return [(unescape(a), unescape(b)) for a, b in cells]


# -- the list -------------------------------------------------------------------------------


def test_jobs_are_filtered_searched_sorted_and_paged_on_the_server(
    stack: Stack, console: Console
) -> None:
    made = []
    for n in range(53):
        kind = "draft" if n % 5 == 0 else "research"
        user = "U_RILEY" if n % 2 else "U_SAM"
        text = f"question {n:02d} about heat pumps" if n % 3 == 0 else f"question {n:02d}"
        made.append(submit(stack.db, stack.kinds, kind, text, user=user, channel=f"C_{n % 4}").id)
    odd = submit(stack.db, stack.kinds, "research", "What does 100%_off mean?", user="U_AVERY")
    stops.request_cancel(stack.db, stack.parts.dispatch, made[7], actor="U_RILEY")

    first = console.page("/")
    assert count(first) == "54 jobs · page 1 of 2"
    assert listed(first)[0] == odd.id and len(listed(first)) == 50
    assert listed(console.page("/", page=2)) == made[3::-1]
    oldest = console.page("/", sort="oldest")
    assert listed(oldest)[:2] == made[:2]
    following = unescape(re.search(r'<a href="([^"]+)" rel="next">', oldest)[1])  # type: ignore[index]
    assert listed(console.page(following)) == [*made[50:], odd.id]
    assert listed(console.page("/", status="canceled")) == [made[7]]
    assert "🚫 Canceled" in console.page("/", status="canceled")
    drafts = listed(console.page("/", kind="draft"))
    assert sorted(drafts) == sorted(made[::5])
    assert listed(console.page("/", lane="approval")) == drafts
    assert listed(console.page("/", requester="U_AVERY")) == [odd.id]
    assert sorted(listed(console.page("/", channel="C_1"))) == sorted(made[1::4])
    pumps = console.page("/", q="HEAT PUMPS", requester="U_SAM")
    assert sorted(listed(pumps)) == sorted(made[0::6])
    assert listed(console.page("/", q="100%_")) == [odd.id]  # taken literally
    assert listed(console.page("/", q="0%_")) == [odd.id]
    assert listed(console.page("/", q="1%2")) == []
    assert listed(console.page("/", q=made[9].lower())) == [made[9]]
    assert "No job matches." in console.page("/", status="completed")
    assert listed(console.page("/", status="nonsense")) == listed(first)  # ignored


# -- one job, and the overview ----------------------------------------------------------------


def test_a_job_page_shows_its_card_facts_output_attempts_timeline_and_the_overview_charts(
    stack: Stack, console: Console
) -> None:
    stack.start_worker()
    job = submit(
        stack.db,
        stack.kinds,
        "research",
        "Why do <b>cats</b> purr? [sandbox: duration=2]",
        user="U_RILEY",
        channel="C_GENERAL",
    )
    stack.wait_status(job.id, "completed", timeout=60)
    shown = stack.show(job.id)
    html = console.page(f"/jobs/{job.id}")

    assert "✅ Completed" in html and "<b>Research</b> for" in html
    assert "Why do &lt;b&gt;cats&lt;/b&gt; purr?" in html
    assert f"Job {job.id} · attempt 1 of 3 · model {job.model}: kind default" in html
    assert shown["provider_response_id"] in html
    assert "1 create call · 1 turn" in html
    assert (
        unescape(re.search(r'<pre class="output" id="output">(.*?)</pre>', html, re.S)[1])
        == (shown["output_text"])
    )
    actions = timeline(html)
    assert actions[0] == ("U_RILEY", "submitted")
    assert ("provider", "finish") in actions
    assert [e["action"] for e in shown["events"]] == [action for _, action in actions]
    assert "Cancel" not in re.search(r'<div class="controls">(.*?)</div>', html, re.S)[1]

    lag = r"<title>[^<]*: p99 [0-9.]+ s</title>"  # its result's, once the result is delivered
    wait_for(lambda: re.search(lag, console.page("/overview", range="24h")), 20, "no result lag")
    overview = console.page("/overview", range="24h")
    assert "Jobs asked for, by status now" in overview
    assert re.search(r"<title>[^<]*: completed 1</title>", overview)
    assert re.search(r"<title>[^<]*: research \$0\.\d\d</title>", overview)  # spend, by day
    assert "nothing in this window" in overview  # no provider or Slack errors
    assert console.client.get("/jobs/NOSUCHJB").status_code == 404


# -- Cancel and Retry -----------------------------------------------------------------------


@ONE_BACKEND
def test_cancel_and_retry_follow_the_buttons_rules_with_the_console_operator_as_actor(
    stack: Stack, console: Console
) -> None:
    job = submit(stack.db, stack.kinds, "research", "Stop me", user="U_RILEY")

    canceled = console.press(job.id, "cancel")
    assert canceled.status_code == 303
    page = console.page(canceled.headers["Location"])
    assert said(page) == "Canceled: it had not reached the provider."
    assert stack.status(job.id) == "canceled"
    assert ("console:alice", "canceled") in timeline(page)

    again = console.press(job.id, "cancel")
    assert again.status_code == 409
    assert said(again.text) == (
        f"Job {job.id} is canceled; only jobs waiting for approval, queued or running can be "
        "canceled; nothing changed."
    )
    retried = console.press(job.id, "retry")
    assert retried.status_code == 303
    assert stack.status(job.id) == "queued"
    assert console.press(job.id, "retry").status_code == 409
    assert stack.status(job.id) == "queued"

    events = [(e["actor"], e["action"], e["detail"]) for e in stack.show(job.id)["events"]]
    assert events[1:] == [
        ("console:alice", "cancel_requested", None),
        ("console:alice", "canceled", "stopped before it reached the provider"),
        ("console:alice", "press:job_cancel", "ok: canceled"),
        ("console:alice", "press:job_cancel", "stale: " + said(again.text)),
        ("console:alice", "retry", "attempt 2"),
        ("console:alice", "press:job_retry", "ok: retried"),
        ("console:alice", "press:job_retry", events[-1][2]),
    ]
    assert events[-1][2].startswith(f"stale: Job {job.id} is queued; only failed, canceled")
    assert stack.show(job.id)["attempts"] == 2


@ONE_BACKEND
def test_another_site_can_neither_post_a_form_nor_read_a_page(
    stack: Stack, console: Console
) -> None:
    job = submit(stack.db, stack.kinds, "research", "Keep me", user="U_RILEY")
    form = {"csrf": csrf(console.page(f"/jobs/{job.id}"))}
    forged = {"Origin": "http://evil.example"}
    assert (
        console.client.post(f"/jobs/{job.id}/cancel", data=form, headers=forged).status_code == 403
    )
    assert console.client.post(f"/jobs/{job.id}/cancel", data={}).status_code == 403
    stranger = HTTP.post(f"{console.url}/jobs/{job.id}/cancel", data=form)  # no cookie
    assert stranger.status_code == 403
    rebound = {"Host": f"evil.example:{console.url.rsplit(':', 1)[1]}"}  # DNS rebinding
    assert HTTP.get(f"{console.url}/jobs/{job.id}", headers=rebound).status_code == 403
    assert stack.status(job.id) == "queued"


# -- the token, and the host ------------------------------------------------------------------


@ONE_BACKEND
def test_with_a_token_every_page_and_action_asks_for_it(stack: Stack, tmp_path: Path) -> None:
    job = submit(stack.db, stack.kinds, "research", "Guarded", user="U_RILEY")
    guarded = start_console(stack, tmp_path / "console.log", ERRAND_CONSOLE_TOKEN=TOKEN)
    try:
        _check_token(guarded, job.id, stack)
    finally:
        guarded.client.close()
        stop(guarded.process)


def _check_token(console: Console, job_id: str, stack: Stack) -> None:
    for path in ("/", f"/jobs/{job_id}", "/overview"):
        refused = HTTP.get(console.url + path)
        assert refused.status_code == 401 and 'name="token"' in refused.text
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert HTTP.post(f"{console.url}/jobs/{job_id}/cancel").status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert HTTP.get(f"{console.url}/", headers=wrong).status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert job_id in HTTP.get(f"{console.url}/", headers=bearer).text

    login = console.client.post("/login", data={"token": "wrong", "next": "/overview"})
    assert login.status_code == 401 and "not the console's token" in login.text
    assert 'name="next" value="/overview"' in login.text
    login = console.client.post("/login", data={"token": TOKEN, "next": "//evil.example/"})
    assert login.status_code == 303 and login.headers["Location"] == "/"
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=43200" in cookie
    _check_session_age(console, job_id)
    assert job_id in console.page("/")
    assert console.client.post(f"/jobs/{job_id}/cancel", data={}).status_code == 403  # no CSRF
    assert console.press(job_id, "cancel").status_code == 303
    assert stack.status(job_id) == "canceled"
    retried = HTTP.post(f"{console.url}/jobs/{job_id}/retry", headers=bearer)  # a script
    assert retried.status_code == 303 and stack.status(job_id) == "queued"


def _check_session_age(console: Console, job_id: str) -> None:
    """A session cookie this console signed works for 12 hours from its login, no longer
    (one copied off a machine does not last for ever)."""
    guard = Guard.for_token(TOKEN)
    for age, status in ((11 * 3600, 200), (13 * 3600, 401)):
        nonce = f"copied~{int(time.time()) - age}"
        cookie = {"Cookie": f"{COOKIE}={nonce}.{guard.sign('session', nonce)}"}
        assert HTTP.get(f"{console.url}/", headers=cookie).status_code == status, age


def _console_once(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "errand.cli", "console", *args],
        check=False,
        cwd=ROOT,
        env={**os.environ, **stack.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@ONE_BACKEND
def test_off_loopback_the_console_needs_a_token_and_says_so_at_start(
    stack: Stack, tmp_path: Path
) -> None:
    refused = _console_once(stack, "--host", "0.0.0.0", "--port", str(free_port()))
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        "errand: --host 0.0.0.0: the console serves other hosts only with ERRAND_CONSOLE_TOKEN "
        "set; without it, it listens on 127.0.0.1 alone"
    ]
    short = _console_once(stack, "--host", "0.0.0.0", ERRAND_CONSOLE_TOKEN="short")
    assert short.returncode != 0 and len(short.stderr.strip().splitlines()) == 1
    assert "ERRAND_CONSOLE_TOKEN is shorter than 16 characters" in short.stderr

    log = tmp_path / "open.log"
    port = free_port()
    process = spawn(
        ["-m", "errand.cli", "console", "--host", "0.0.0.0", "--port", str(port)],
        {**stack.env, "ERRAND_CONSOLE_TOKEN": TOKEN},
        log,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/static/console.css")
        assert HTTP.get(f"http://127.0.0.1:{port}/").status_code == 401
    finally:
        stop(process)
    assert f"errand: console at http://0.0.0.0:{port}/ (every page asks for" in log.read_text()
    assert TOKEN not in log.read_text()


# -- the sandbox links to its console -------------------------------------------------------


@pytest.mark.exclusive  # a whole `errand run --sandbox`: started beside others, it was starved
def test_the_sandbox_page_links_to_a_console_of_the_sandbox(tmp_path: Path) -> None:
    run = start_sandbox(tmp_path / "sandbox")
    try:
        setup = HTTP.get(f"{run.url}/ui/api/setup", timeout=30).json()
        url = setup["console_url"]
        assert url.startswith("http://127.0.0.1:")
        wait_http(url)
        assert "Errand console" in HTTP.get(url, timeout=30).text
    finally:
        assert not stop_sandbox(run), "processes outlived errand run --sandbox"


# -- what the page shows: the bot's card, and only text ---------------------------------------

MOMENT = datetime(2026, 11, 28, 14, 5, 9, tzinfo=UTC)


def _job(**fields: object) -> Job:
    values: dict[str, object] = {
        "id": "ABCD1234",
        "kind": "research",
        "lane": "background",
        "status": "queued",
        "requested_by": "U_RILEY",
        "input_text": "How do heat pumps cope with frost?",
        "attempts": 1,
        "max_attempts": 3,
        "model": "gpt-5.2",
        "created_at": MOMENT,
        "updated_at": MOMENT,
    }
    return Job(**{**values, **fields})


LATER = MOMENT + timedelta(minutes=2, seconds=5)
CARDS = [
    *(_job(status=status.value) for status in JobStatus),
    _job(status="queued", wait_reason="U_RILEY has 5 jobs running; this one waits its turn"),
    _job(status="running", started_at=MOMENT),
    _job(status="running", started_at=MOMENT, stop_requested="canceled"),
    _job(status="completed", started_at=MOMENT, finished_at=LATER, cost_usd=0.2612),
    _job(status="completed", started_at=MOMENT, finished_at=LATER, cost_usd=0.003),
    _job(status="failed", error="the provider failed: server_error", attempts=4),
    _job(status="expired", error="No approver decided within 72 hours, so the job did not start."),
    _job(status="completed", error="incomplete: max_output_tokens", output_text="Half"),
    _job(status="completed", error="incomplete:", output_text="Half"),
    _job(status="canceled", purged_at=LATER),
    _job(
        model="gpt-5-mini",
        options={
            "model": {"value": "gpt-5-mini", "source": "channel default"},
            "effort": {"value": "high", "source": "request"},
            "tier": {"value": None, "source": "kind default"},
        },
    ),
]


def _slack_plain(text: str) -> str:
    """A Slack date as its fallback text, code spans as plain text."""
    return re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text).replace("`", "")


@pytest.mark.parametrize("job", CARDS, ids=lambda job: f"{job.status}")
def test_the_console_card_says_what_the_bot_card_says(job: Job) -> None:
    """The console may not import the bot: its card repeats the rules, held here."""
    _text, blocks = bot_card.card(job, "Research")
    texts = [_slack_plain(str(b["text"]["text"])) for b in blocks if b["type"] == "section"]
    contexts = [
        _slack_plain(str(b["elements"][0]["text"])) for b in blocks if b["type"] == "context"
    ]
    assert console_card.status_label(job).slack == bot_card.status_label(job)
    assert texts[0].endswith(f" · {console_card.timing(job)}")
    assert contexts[-1] == " · ".join(console_card.footer(job))
    warned = [c for c in contexts if c.startswith(":warning:")]
    assert warned == ([f":warning: {job.wait_reason}"] if console_card.waiting(job) else [])
    offered = bot_controls.card_actions(job)
    assert console_card.can_cancel(job) == (ActionId.JOB_CANCEL in offered)
    assert console_card.can_retry(job) == (ActionId.JOB_RETRY in offered)
    assert all(emoji in console_card.EMOJI for emoji in re.findall(r":([a-z_]+):", texts[0]))


def test_the_bot_names_a_console_operator_as_an_operator() -> None:
    assert actor("console:alice") == actor("console") == "an operator (console)"
    assert actor("consolea") == "consolea"


class _Structure(HTMLParser):
    """The page's markup: each element and the names of its attributes, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, ...]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, *sorted(name for name, _ in attrs)))

    def handle_comment(self, data: str) -> None:
        self.found.append(("<!--",))


def _structure(html: str) -> list[tuple[str, ...]]:
    parser = _Structure()
    parser.feed(html)
    parser.close()
    return parser.found


ATTACKS = st.sampled_from(
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "</pre><h1>owned</h1><pre>",
        "<!-- -->",
        "{{ config }}{% raw %}",
        "&lt;b&gt;bold&lt;/b&gt;",
        "<svg onload=alert(1)>",
        "' onmouseover='alert(1)",
        '<a href="javascript:alert(1)">x</a>',
        "<@U123> <!channel> *bold* ```code```",
    ]
)
HOSTILE = st.tuples(
    ATTACKS, st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
).map("".join)


@pytest.fixture
def pages(stack: Stack) -> Iterator[Any]:
    """The console app itself, in this process, on the test's database (a property test
    renders many pages)."""
    config = ConsoleConfig(stack.db, stack.kinds, stack.parts.dispatch, "alice")
    yield create_app(config).test_client()


def _hostile_job(stack: Stack, question: str, output: str, requester: str, said: str) -> str:
    job = submit(stack.db, stack.kinds, "research", question, user=requester)
    with stack.db.unit() as unit:  # what a run leaves: output, errors, events, news
        unit.session.execute(
            update(jobs)
            .where(jobs.c.id == job.id)
            .values(status="failed", output_text=output, error=said, provider_error=said)
        )
        record_event(unit.session, job.id, said[:64], "note", detail=said)
        add_notice(unit.session, job.id, "failed", key="hostile")
        unit.session.execute(
            update(notices).where(notices.c.job_id == job.id).values(last_error=said)
        )
    return job.id


@ONE_BACKEND
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(question=HOSTILE, output=HOSTILE, requester=HOSTILE, said=HOSTILE)
def test_hostile_text_is_shown_as_text_never_as_markup(
    stack: Stack, pages: Any, question: str, output: str, requester: str, said: str
) -> None:
    """Whatever people or the provider wrote, the job's page and its row in the list have
    the markup of a job that says "x", and show the text itself."""
    hostile = _hostile_job(stack, question, output, requester, said)
    plain = _hostile_job(stack, "x", "x", "x", "x")
    for path in ("/jobs/{}", "/?q={}"):
        shown = pages.get(path.format(hostile)).get_data(as_text=True)
        twin = pages.get(path.format(plain)).get_data(as_text=True)
        assert _structure(shown) == _structure(twin)
    page = unescape(pages.get(f"/jobs/{hostile}").get_data(as_text=True))
    stored = queries.get_job(stack.db, hostile)  # the question as submission cleaned it
    for text in (stored.input_text, stored.requested_by, output, said):
        assert text in page


# -- in a browser -----------------------------------------------------------------------------

SHOTS = ROOT / "test-artifacts" / "console"
SECOND = 1000  # Playwright counts milliseconds


@pytest.mark.exclusive  # a browser's waits, timed: alone, not beside busy test workers
@ONE_BACKEND
def test_in_a_browser_an_operator_filters_opens_a_job_sees_its_timeline_and_cancels_it(
    stack: Stack, console: Console
) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    stack.start_worker()
    slow = submit(
        stack.db,
        stack.kinds,
        "research",
        "How do glaciers carve valleys? [sandbox: duration=300]",
        user="U_RILEY",
        channel="C_GENERAL",
    )
    draft = submit(stack.db, stack.kinds, "draft", "A haiku about glaciers", user="U_SAM")
    stack.wait_status(slow.id, "running", timeout=60)
    stack.wait_status(draft.id, "needs_review", timeout=60)  # so one job is running
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(30 * SECOND)
        try:
            _operate(playwright.expect, page, console.url, slow.id, stack)
        finally:
            page.screenshot(path=str(SHOTS / "last.png"), full_page=True)
            browser.close()


def _operate(expect: Any, page: Any, url: str, job_id: str, stack: Stack) -> None:
    page.goto(url)
    expect(page.locator("#count")).to_have_text("2 jobs")
    page.select_option("select[name=status]", "running")
    page.fill("input[name=q]", "glaciers")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#count")).to_have_text("1 job")
    page.screenshot(path=str(SHOTS / "filtered.png"), full_page=True)
    page.get_by_role("link", name=job_id).click()

    expect(page.locator("#card")).to_contain_text("Running")
    timeline = page.locator("#timeline tr.event")
    expect(timeline.first).to_contain_text("submitted")
    expect(page.locator("#timeline")).to_contain_text("queued → running")
    page.screenshot(path=str(SHOTS / "job-running.png"), full_page=True)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#said")).to_contain_text("Canceling")
    expect(page.locator("#card")).to_contain_text(re.compile("Canceling…|Canceled"))  # a worker
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)

    stack.wait_status(job_id, "canceled", timeout=60)  # a worker cancelled the response
    page.reload()
    expect(page.locator("#card")).to_contain_text("Canceled")
    canceled = timeline.filter(has_text="running → canceled")
    expect(canceled).to_contain_text("console:alice")
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    page.screenshot(path=str(SHOTS / "job-canceled.png"), full_page=True)
