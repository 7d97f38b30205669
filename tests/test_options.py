"""A job's options (model, effort, tier): asked in the request, or set as a channel's
defaults through `/errand settings`, checked against the kind, sent to the provider and
named on the card with why. Real processes; Slack requests signed as Slack signs them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from models.store.preferences import all_channel_defaults
from tests.support.procs import wait_for
from tests.support.slack import SECRET, BotProcess, card_text, job_id_of
from tests.support.stack import Stack

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
HERE = "C_GENERAL"  # Riley (U_REQUESTER) created it, in the stand-in's workspace


def _wired(bot: BotProcess) -> str:
    """The stand-in sends people's actions to this bot; Errand's user ID."""
    bot.slack.configure(request_url=f"{bot.url}/slack/events", signing_secret=SECRET)
    return str(bot.slack.control("/workspace")["bot"]["user_id"])


def _create(stack: Stack, job_id: str) -> dict[str, Any]:
    """The create call the provider stand-in received for the job."""

    def found() -> list[dict[str, Any]]:
        creates = stack.openai.requests(endpoint="create")
        return [r for r in creates if (r.get("metadata") or {}).get("job_id") == job_id]

    wait_for(found, 20, f"no create for {job_id}")
    return found()[0]


def _card_for(bot: BotProcess, job_id: str) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        return [c for c in bot.slack.cards(HERE) if job_id_of(c) == job_id]

    wait_for(found, 20, f"no card for {job_id}")
    return found()[0]


def _modal(bot: BotProcess, user: str) -> dict[str, Any]:
    wait_for(lambda: bot.slack.views(user)["modals"], 10, "no modal opened")
    [modal] = bot.slack.views(user)["modals"]
    return modal


@SQLITE
def test_request_options_reach_the_provider_and_are_named_on_the_card(
    stack: Stack, bot: BotProcess
) -> None:
    errand = _wired(bot)
    stack.start_worker()
    answer = bot.command("/research", "--model gpt-5-mini --effort high --tier flex Heat pumps?")
    said = answer.json()["text"]
    assert "model gpt-5-mini: request" in said and "effort high: request" in said
    [job] = stack.jobs()
    create = _create(stack, job["id"])
    assert create["model"] == "gpt-5-mini"
    assert create["reasoning"] == {"effort": "high"} and create["service_tier"] == "flex"
    shown = card_text(_card_for(bot, job["id"]))
    assert "model gpt-5-mini: request" in shown and "tier flex: request" in shown
    assert stack.show(job["id"])["options"]["model"] == {"value": "gpt-5-mini", "source": "request"}

    # In a mention, as a tag; the rest of the text is the question.
    bot.slack.act(
        "message", user="U_REQUESTER", channel=HERE, text=f"<@{errand}> [effort: low] Solar?"
    )
    wait_for(lambda: len(stack.jobs()) == 2, 20, "the mention made no job")
    mentioned = stack.jobs()[0]
    create = _create(stack, mentioned["id"])
    assert create["model"] == "gpt-5.2" and create["reasoning"] == {"effort": "low"}
    assert str(stack.show(mentioned["id"])["input"]).startswith("Solar?")


@SQLITE
def test_a_bad_option_is_refused_with_the_allowed_values_and_makes_no_job(
    stack: Stack, bot: BotProcess
) -> None:
    said = bot.command("/research", "--model gpt-4o What changed?").json()["text"]
    assert said == "`gpt-4o` is not a model /research can use. Allowed: `gpt-5.2`, `gpt-5-mini`."
    said = bot.command("/deep", "--effort high What changed?").json()["text"]
    assert "takes no effort option" in said
    said = bot.command("/ask", "--colour red What changed?").json()["text"]
    assert "`--colour` is not an option" in said and "`--model`" in said
    assert stack.jobs() == []


def test_a_channel_default_set_in_the_settings_modal_is_used_and_named(
    stack: Stack, bot: BotProcess
) -> None:
    _wired(bot)
    stack.start_worker()
    sent = bot.slack.act("command", user="U_REQUESTER", channel=HERE, text="/errand settings")
    assert sent["status"] == 200, sent
    modal = _modal(bot, "U_REQUESTER")
    assert "Research (/research)" in json.dumps(modal["blocks"])
    values = {"setting:research:model": {"setting_input": "gpt-5-mini"}}
    submitted = bot.slack.act("submit", user="U_REQUESTER", view_id=modal["id"], values=values)
    assert submitted["status"] == 200 and not submitted.get("errors"), submitted
    assert bot.slack.views("U_REQUESTER")["modals"] == []  # saved and closed
    told = "<@U_REQUESTER> set the defaults for new jobs in this channel: *Research* model"

    def announced() -> list[str]:
        return [str(m.get("text")) for m in bot.slack.messages(HERE) if told in str(m.get("text"))]

    wait_for(announced, 10, "the channel was not told")
    assert announced() == [f":gear: {told} `gpt-5-mini`."]  # only what the channel chose

    bot.command("/research", "Heat pumps or boilers?")
    [job] = stack.jobs()
    assert _create(stack, job["id"])["model"] == "gpt-5-mini"
    shown = card_text(_card_for(bot, job["id"]))
    assert "model gpt-5-mini: channel default" in shown
    # The request still wins over the channel's default.
    bot.command("/research", "--model gpt-5.2 And heat networks?")
    newest = stack.jobs()[0]
    assert _create(stack, newest["id"])["model"] == "gpt-5.2"
    assert "model gpt-5.2: request" in card_text(_card_for(bot, newest["id"]))


@SQLITE
def test_settings_are_refused_to_someone_who_does_not_look_after_the_channel(
    stack: Stack, bot: BotProcess
) -> None:
    _wired(bot)
    sent = bot.slack.act("command", user="U_OTHER", channel=HERE, text="/errand settings")
    assert sent["status"] == 200
    wait_for(lambda: bot.slack.ephemeral(HERE, "U_OTHER"), 10, "no refusal")
    assert "Only the channel's creator" in bot.slack.ephemeral(HERE, "U_OTHER")[0]
    assert bot.slack.views("U_OTHER")["modals"] == []
    # A submission forged without the modal is refused too, and nothing is stored.
    chosen = {"type": "static_select", "selected_option": {"value": "gpt-5-mini"}}
    view = {"callback_id": "channel_settings", "private_metadata": json.dumps({"channel": HERE})}
    answer = bot.submit_view(view, "U_OTHER", {"setting:research:model": {"setting_input": chosen}})
    assert answer.json()["response_action"] == "errors"
    assert "Only the channel's creator" in answer.json()["errors"]["setting:research:model"]
    assert all_channel_defaults(stack.db, HERE) == {}
