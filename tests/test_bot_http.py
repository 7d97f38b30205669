"""The bot's HTTP face: only Slack-signed requests act; bad input never takes it down."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sandbox import slack_signing as signing
from tests.support.client import HTTP
from tests.support.procs import free_port, spawn, stop, wait_for, wait_http
from tests.support.slack import SECRET, TOKEN, BotProcess, SlackSandbox, card_text
from tests.support.stack import Stack

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _command_body(bot: BotProcess, text: str = "Forged question") -> bytes:
    url = bot.slack.response_url("C_GENERAL", "U_REQUESTER")
    return signing.slash_command_body(
        "/research", text, "U_REQUESTER", "C_GENERAL", url, bot.slack.trigger("U_REQUESTER")
    )


def test_forged_and_stale_requests_are_refused(stack: Stack, bot: BotProcess) -> None:
    body = _command_body(bot)
    forged = bot.post(body, signing.form_headers(body, "not-the-secret"))
    stale = bot.post(body, signing.form_headers(body, SECRET, timestamp=int(time.time()) - 600))
    assert (forged.status_code, stale.status_code) == (401, 401)
    assert bot.post(body, {"Content-Type": signing.FORM_CONTENT_TYPE}).status_code == 401
    assert "[]" in stack.cli("jobs", "list", "--json").stdout
    assert bot.slack.calls("chat.postMessage") == []


@pytest.mark.parametrize(
    "body",
    [b"payload=%7Bnot-json", b"payload=%7B%7D", b"\xff\xfe", b"command=/research"],
    ids=["bad-json", "empty-payload", "binary", "half-command"],
)
def test_malformed_payloads_are_4xx_and_bot_stays_healthy(bot: BotProcess, body: bytes) -> None:
    assert 400 <= bot.signed(body).status_code < 500
    assert bot.healthz().status_code == 200


def test_empty_and_oversized_commands_get_help_and_no_job(stack: Stack, bot: BotProcess) -> None:
    empty = bot.command("/research", "   ")
    assert empty.status_code == 200 and "/research <" in empty.json()["text"]
    huge = bot.command("/research", "x" * 5000)
    assert "at most" in huge.json()["text"]
    assert "[]" in stack.cli("jobs", "list", "--json").stdout


def test_a_job_that_cannot_be_stored_is_refused_in_the_ack(
    stack: Stack, bot: BotProcess, tmp_path: Path
) -> None:
    """The database refuses the insert: the ack says so, with a reference for the operator."""
    with stack.db.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE jobs RENAME TO jobs_away")
    try:
        answer = bot.command("/research", "Will this be lost?")
    finally:
        with stack.db.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE jobs_away RENAME TO jobs")
    assert answer.status_code == 200
    text = answer.json()["text"]
    assert text.startswith("Something went wrong on Errand's side (ref `")
    ref = text.split("`")[1]
    assert ref in (tmp_path / "bot.log").read_text()
    assert bot.healthz().status_code == 200
    assert "[]" in stack.cli("jobs", "list", "--json").stdout


def test_same_trigger_id_makes_one_job(stack: Stack, bot: BotProcess) -> None:
    body = _command_body(bot, "Once only [sandbox: duration=1]")
    headers = {**signing.form_headers(body, SECRET), "X-Slack-Retry-Num": "1"}
    first, retried = bot.signed(body), bot.post(body, headers)
    assert first.status_code == retried.status_code == 200
    assert first.json()["text"].startswith("Started your research job `")
    assert retried.json()["text"] == first.json()["text"]  # the same job ID
    assert stack.cli("jobs", "list", "--json").stdout.count('"id"') == 1


def test_health_and_metrics(bot: BotProcess) -> None:
    health = bot.healthz()
    assert health.status_code == 200
    assert health.json() == {"database": "ok", "redis": "ok"}
    metrics = HTTP.get(f"{bot.url}/metrics").text
    assert "errand_slack_requests_total" in metrics


def test_jobs_lists_and_app_home(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/research", "Listed question [sandbox: duration=30]")
    wait_for(lambda: bot.slack.cards("C_GENERAL"), 10, "no job")
    bot.command("/jobs", "mine")
    wait_for(
        lambda: any(
            "Your recent jobs" in t for t in bot.slack.ephemeral("C_GENERAL", "U_REQUESTER")
        ),
        10,
        "no /jobs answer",
    )
    bot.command("/jobs", "all", user="U_OTHER")
    wait_for(
        lambda: any("on-call only" in t for t in bot.slack.ephemeral("C_GENERAL", "U_OTHER")),
        10,
        "/jobs all not refused",
    )
    bot.command("/jobs", "all", user="U_ONCALL")
    wait_for(lambda: bot.slack.ephemeral("C_GENERAL", "U_ONCALL"), 10, "no /jobs all answer")
    assert bot.signed(signing.app_home_opened_body("U_REQUESTER"), as_json=True).status_code == 200
    wait_for(lambda: bot.slack.views("U_REQUESTER").get("home"), 10, "home not published")
    assert "Listed question" in card_text(bot.slack.views("U_REQUESTER")["home"])


def test_healthz_names_what_is_down(stack: Stack, slack: SlackSandbox, tmp_path: Path) -> None:
    env = {
        **stack.env,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
    }
    port = free_port()
    process = spawn(["-m", "errand.cli", "bot", "--port", str(port)], env, tmp_path / "bot.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        health = HTTP.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.status_code == 503
        assert health.json()["database"] == "ok"
        assert health.json()["redis"] != "ok"
    finally:
        stop(process)
