"""Telling the person who asked: a result in the thread mentions them, so Slack notifies
them; with "Tell me by DM" chosen on App Home, a DM with a link says the result is in.
Real processes; Slack requests signed as Slack signs them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.procs import wait_for
from tests.support.slack import SECRET, BotProcess, job_id_of
from tests.support.stack import Stack

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
HERE = "C_GENERAL"
ME = "U_REQUESTER"


def _result_reply(bot: BotProcess, job_id: str) -> dict[str, Any]:
    """The thread reply carrying the job's result, waiting for it."""

    def found() -> list[dict[str, Any]]:
        cards = [c for c in bot.slack.cards(HERE) if job_id_of(c) == job_id]
        replies = [r for c in cards for r in c.get("replies") or []]
        return [r for r in replies if f"Result of job {job_id}" in str(r.get("text"))]

    wait_for(found, 30, f"no result for {job_id}")
    return found()[0]


def _home(bot: BotProcess) -> dict[str, Any]:
    home: dict[str, Any] = bot.slack.views(ME)["home"] or {}
    return home


def _toggle(home: dict[str, Any]) -> dict[str, Any]:
    [button] = [
        b["accessory"]
        for b in home.get("blocks") or []
        if (b.get("accessory") or {}).get("action_id") == "notify_by_dm"
    ]
    return dict(button)


@SQLITE
def test_the_result_reply_mentions_the_requester(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/research", "Heat pumps or boilers?")
    [job] = stack.jobs()
    reply = _result_reply(bot, job["id"])
    assert str(reply["text"]).startswith(f"<@{ME}> Result of job {job['id']}")
    assert json.dumps(reply["blocks"]).count(f"<@{ME}>") == 1
    assert bot.slack.calls("conversations.open") == []  # no DM: the mention is the news


@SQLITE
def test_with_the_dm_preference_the_result_goes_by_dm(stack: Stack, bot: BotProcess) -> None:
    bot.slack.configure(request_url=f"{bot.url}/slack/events", signing_secret=SECRET)
    bot.slack.act("home", user=ME)
    wait_for(lambda: _home(bot).get("blocks"), 10, "no App Home")
    home = _home(bot)
    button = _toggle(home)
    assert button["text"]["text"] == "Tell me by DM"
    pressed = {k: button[k] for k in ("action_id", "value")}
    bot.slack.act("press", user=ME, view_id=home["id"], **pressed)
    wait_for(
        lambda: _toggle(_home(bot))["text"]["text"] == "Mention me instead", 10, "not switched"
    )

    stack.start_worker()
    bot.command("/research", "Heat pumps or boilers?")
    [job] = stack.jobs()
    reply = _result_reply(bot, job["id"])
    assert f"<@{ME}>" not in str(reply["text"]) + json.dumps(reply["blocks"])

    def dm_notes() -> list[dict[str, Any]]:
        posts = bot.slack.calls("chat.postMessage")
        return [c for c in posts if "The result of your job" in str(c["args"].get("text"))]

    wait_for(dm_notes, 20, "no DM")
    [note] = dm_notes()
    dm = str(note["args"]["channel"])
    assert dm.startswith("D")
    [message] = bot.slack.messages(dm)
    assert f"The result of your job `{job['id']}` is in" in message["text"]
    assert f"/archives/{HERE}/p{str(reply['ts']).replace('.', '')}" in message["text"]


@SQLITE
def test_a_decision_on_the_job_mentions_the_requester(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/deep", "Survey every paper on tidal locking")
    [job] = stack.jobs()
    stack.wait_status(job["id"], "awaiting_approval", timeout=30)

    def request() -> list[dict[str, Any]]:
        return [m for m in bot.slack.messages("C_APPROVALS") if job["id"] in json.dumps(m)]

    wait_for(request, 20, "no approval request")
    bot.click("job_reject", job["id"], "U_APPROVER", "C_APPROVALS", request()[0])
    wait_for(lambda: bot.slack.views("U_APPROVER")["modals"], 10, "no reason modal")
    modal = bot.slack.views("U_APPROVER")["modals"][-1]
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": "Too broad"}}}
    assert bot.submit_view(modal, "U_APPROVER", values).status_code == 200

    def decision() -> list[str]:
        cards = [c for c in bot.slack.cards(HERE) if job_id_of(c) == job["id"]]
        replies = [r for c in cards for r in c.get("replies") or []]
        return [str(r["text"]) for r in replies if "Rejected by" in str(r.get("text"))]

    wait_for(decision, 20, "no decision in the thread")
    assert decision()[0].startswith(f"<@{ME}> :no_entry: Rejected by <@U_APPROVER>")
