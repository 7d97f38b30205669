"""The job's thread as a Slack agent session, and feedback on results: real processes,
requests signed as Slack signs them, the Slack stand-in playing Slack's client.

The thread's status follows the job (processing, then active); Slack's Stop cancels the
job as the card's Cancel button does; a workspace where the app is not an agent still
gets its card and result; a 👎 with a comment is stored, counted and shown.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from models.store.submission import submit
from tests.support.client import HTTP
from tests.support.procs import wait_for
from tests.support.slack import SECRET, BotProcess, card_text, job_id_of
from tests.support.stack import Stack

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
HERE = "C_GENERAL"


def _wired(bot: BotProcess) -> str:
    """Errand's user ID, once the stand-in delivers people's actions to the bot."""
    bot.slack.configure(request_url=f"{bot.url}/slack/events", signing_secret=SECRET)
    return str(bot.slack.control("/workspace")["bot"]["user_id"])


def _statuses(bot: BotProcess, thread_ts: str) -> list[str]:
    sessions = bot.slack.agent_sessions(channel=HERE, thread_ts=thread_ts)
    return [h["status"] for s in sessions for h in s["history"]]


def _replies(bot: BotProcess, root: str) -> list[dict[str, Any]]:
    [message] = [m for m in bot.slack.messages(HERE) if m["ts"] == root]
    return list(message.get("replies") or [])


def _result(bot: BotProcess, root: str, job_id: str) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        heading = f"Result of job {job_id}"
        return [r for r in _replies(bot, root) if heading in str(r.get("text") or "")]

    wait_for(found, 30, "no result in the thread")
    return found()[-1]


@SQLITE
def test_the_threads_agent_status_is_processing_while_the_job_runs_then_active(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    assert bot.command("/research", "What do heat pumps cost? [sandbox: duration=2]").status_code
    card = bot.slack.card(HERE)
    job_id = job_id_of(card)
    stack.wait_status(job_id, "completed")
    _result(bot, card["ts"], job_id)
    wait_for(lambda: _statuses(bot, card["ts"]) == ["processing", "active"], 20, "no active")
    [session] = bot.slack.agent_sessions(channel=HERE, thread_ts=card["ts"])
    assert session["title"].startswith("Research: What do heat pumps cost?")

    # The card, /jobs and App Home link the job to its thread, with start time and cost;
    # Slack is asked for the link once.
    link = f"https://{_domain(bot)}.slack.com/archives/{HERE}/p{card['ts'].replace('.', '')}"
    wait_for(lambda: "Completed" in card_text(_fresh(bot, card)), 20, "card not done")
    done = card_text(_fresh(bot, card))
    assert f"<{link}|Open thread>" in done and "started" in done and "$" in done
    assert bot.command("/jobs", "").status_code == 200
    _wired(bot)
    assert bot.slack.act("home", user="U_REQUESTER")["ok"]
    wait_for(lambda: bot.slack.views("U_REQUESTER")["home"], 20, "no App Home")
    listed = json.dumps(bot.slack.conversation(HERE)["ephemeral"]["U_REQUESTER"])
    home = json.dumps(bot.slack.views("U_REQUESTER")["home"]["blocks"])
    for shown in (listed, home):
        assert f"<{link}|Open thread>" in shown and "started" in shown and "$" in shown
    assert len(bot.slack.calls("chat.getPermalink")) == 1


def _domain(bot: BotProcess) -> str:
    return str(bot.slack.control("/workspace")["team"]["domain"])


@SQLITE
def test_slacks_stop_cancels_the_job_as_the_cancel_button_does(
    stack: Stack, bot: BotProcess
) -> None:
    errand = _wired(bot)
    stack.start_worker()
    asked = f"<@{errand}> why is the sky blue? [sandbox: slow]"
    said = bot.slack.act("message", user="U_REQUESTER", channel=HERE, text=asked)
    root = str(said["ts"])
    wait_for(lambda: _statuses(bot, root) == ["processing"], 30, "no processing session")
    job_id = next(j["id"] for j in stack.jobs() if j["thread_ts"] == root)
    stack.wait_status(job_id, "running")
    wait_for(lambda: stack.openai.responses_for(job_id), 20, "never reached the provider")

    # Someone who may not cancel it is told so; the job carries on.
    assert bot.slack.act("stop", user="U_OTHER", channel=HERE, thread_ts=root)["ok"]
    wait_for(lambda: bot.slack.ephemeral(HERE, "U_OTHER"), 20, "U_OTHER was not told")
    assert "Only the person who asked" in bot.slack.ephemeral(HERE, "U_OTHER")[0]
    assert stack.status(job_id) == "running"

    assert bot.slack.act("stop", user="U_REQUESTER", channel=HERE, thread_ts=root)["ok"]
    stack.wait_status(job_id, "canceled")
    wait_for(
        lambda: [r["status"] for r in stack.openai.responses_for(job_id)] == ["cancelled"],
        20,
        "the response was not cancelled at the provider",
    )
    card = next(r for r in _replies(bot, root) if (r.get("metadata") or {}).get("event_payload"))
    wait_for(lambda: "Canceled" in card_text(_card(bot, root, card["ts"])), 20, "card not canceled")
    events = stack.show(job_id)["events"]
    stops = [e for e in events if e["action"] == "press:job_cancel"]
    assert [(e["actor"], e["detail"].split(":")[0]) for e in stops] == [
        ("U_OTHER", "refused (Slack's Stop)"),
        ("U_REQUESTER", "ok (Slack's Stop)"),
    ]
    assert any(e["to_status"] == "canceled" for e in events)
    wait_for(lambda: _statuses(bot, root) == ["processing", "active"], 20, "session not active")


def _card(bot: BotProcess, root: str, ts: str) -> dict[str, Any]:
    return next(r for r in _replies(bot, root) if r["ts"] == ts)


@SQLITE
def test_a_workspace_where_the_app_is_no_agent_still_gets_card_and_result(
    stack: Stack, bot: BotProcess
) -> None:
    bot.slack.configure(agent=False)
    stack.start_worker()
    for number, question in enumerate(("What is a heat pump?", "What is a heat battery?")):
        bot.command("/research", f"{question} [sandbox: duration=1]")
        wait_for(lambda n=number: len(bot.slack.cards(HERE)) == n + 1, 20, "no card")
        card = bot.slack.cards(HERE)[-1]
        job_id = job_id_of(card)
        stack.wait_status(job_id, "completed")
        _result(bot, card["ts"], job_id)
        wait_for(lambda c=card: "Completed" in card_text(_fresh(bot, c)), 20, "card not done")
    tried = bot.slack.calls("agents.sessions.setStatus")
    assert [c["error"] for c in tried] == ["not_authorized"]  # once, then remembered
    assert json.loads(stack.cli("notices", "--undeliverable", "--json").stdout) == []


def _fresh(bot: BotProcess, card: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in bot.slack.messages(HERE) if m["ts"] == card["ts"])


@SQLITE
def test_a_thumbs_down_with_a_comment_is_stored_counted_and_shown(
    stack: Stack, bot: BotProcess
) -> None:
    _wired(bot)
    stack.start_worker()
    bot.command("/research", "What do heat pumps cost? [sandbox: duration=1]")
    card = bot.slack.card(HERE)
    job_id = job_id_of(card)
    result = _result(bot, card["ts"], job_id)
    [block] = [b for b in result["blocks"] if b["type"] == "context_actions"]
    [buttons] = block["elements"]
    down = buttons["negative_button"]["value"]
    pressed = bot.slack.act(
        "press",
        user="U_OTHER",
        channel=HERE,
        ts=result["ts"],
        thread_ts=card["ts"],
        action_id=buttons["action_id"],
        block_id=block["block_id"],
        value=down,
    )
    assert pressed["status"] == 200
    wait_for(lambda: bot.slack.views("U_OTHER")["modals"], 20, "no comment modal")
    [modal] = bot.slack.views("U_OTHER")["modals"]
    [field] = modal["blocks"]
    typed = {field["block_id"]: {field["element"]["action_id"]: "It missed the grant."}}
    assert bot.slack.act("submit", user="U_OTHER", view_id=modal["id"], values=typed)["ok"]

    def stored() -> list[dict[str, Any]]:
        return [f for f in stack.show(job_id)["feedback"] if f["comment"]]

    wait_for(stored, 20, "no comment stored")
    [said] = stack.show(job_id)["feedback"]
    assert (said["actor"], said["value"], said["comment"]) == (
        "U_OTHER",
        "negative",
        "It missed the grant.",
    )
    shown = stack.cli("jobs", "show", job_id).stdout
    assert "feedback: negative by U_OTHER" in shown and "It missed the grant." in shown
    metrics = HTTP.get(f"{bot.url}/metrics", timeout=10).text
    assert 'errand_feedback_total{kind="research",value="negative"} 1.0' in metrics


BUSY = 40  # jobs at once, each in a channel of its own; Slack allows 50 statuses a minute


@SQLITE
def test_statuses_over_slacks_budget_hold_up_no_result_and_never_go_backwards(
    stack: Stack, bot: BotProcess
) -> None:
    channels = [f"C_BUSY{n:02d}" for n in range(BUSY)]
    for channel in channels:
        bot.slack.control("/channels", {"id": channel, "name": channel.lower().replace("_", "-")})
    for n, channel in enumerate(channels):
        submit(
            stack.db,
            stack.kinds,
            "research",
            f"Q{n} [sandbox: duration=1]",
            user="U_REQUESTER",
            channel=channel,
        )
    stack.start_worker()
    wait_for(lambda: _results_in(bot, channels) == BUSY, 90, "not every result was posted")
    # Before each result, its job's earlier statuses went first, at Slack's pace: 40 jobs
    # took 40 calls or more. Now the newest pending status is sent, beside the news.
    assert len(bot.slack.calls("agents.sessions.setStatus")) < BUSY
    for channel in channels:  # a thread that reached "active" never shows "processing" again
        for session in bot.slack.agent_sessions(channel=channel):
            history = [h["status"] for h in session["history"]]
            if "active" in history:
                assert "processing" not in history[history.index("active") :], history


def _results_in(bot: BotProcess, channels: list[str]) -> int:
    return sum(
        any(
            "Result of job" in str(r.get("text"))
            for m in bot.slack.messages(c)
            for r in m.get("replies") or []
        )
        for c in channels
    )
