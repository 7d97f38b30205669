"""Service tiers: each kind may ask the provider for one (`flex` at half price when it can
wait, `priority` at twice the price when it cannot); the tier the provider reports is
stored and shown next to the cost, and flex's "no capacity right now" is waited out."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.job import Job
from tests.support.procs import wait_for
from tests.support.slack import BotProcess, card_text, job_id_of
from tests.support.stack import Stack

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
FLEX_RESEARCH = pytest.mark.kinds(per_kind={"research": {"service_tier": "flex"}})


def _jobs(stack: Stack, kind: str) -> list[str]:
    with stack.db.unit() as unit:
        return list(unit.session.scalars(select(Job.id).where(Job.kind == kind)))


def _card(bot: BotProcess, job_id: str) -> str:
    """What the job's card shows ("" until it is posted)."""
    found = [c for c in bot.slack.cards("C_GENERAL") if job_id_of(c) == job_id]
    return card_text(found[0]) if found else ""


@SQLITE
@FLEX_RESEARCH
def test_flex_jobs_wait_out_missing_capacity_while_other_kinds_run(
    stack: Stack, bot: BotProcess
) -> None:
    stack.openai.fault(
        endpoint="create", error="resource_unavailable", service_tier="flex", seconds=20
    )
    stack.start_worker()
    for n in range(3):
        assert bot.command("/research", f"Cheap question {n}").status_code == 200
    wait_for(lambda: len(_jobs(stack, "research")) == 3, 30, "research jobs not recorded")
    flex = _jobs(stack, "research")
    wait_for(
        lambda: all("Waiting for flex capacity" in _card(bot, j) for j in flex),
        30,
        "no card says the job waits for flex capacity",
    )
    assert bot.command("/ask", "Quick one [sandbox: duration=2]").status_code == 200
    wait_for(lambda: _jobs(stack, "ask"), 30, "ask job not recorded")
    [ask] = _jobs(stack, "ask")
    stack.wait_status(ask, "completed", timeout=40)
    assert not stack.parts.redis.exists("errand:breaker:tripped")
    for job_id in flex:
        stack.wait_status(job_id, "completed", timeout=90)
        shown = stack.show(job_id)
        assert shown["service_tier"] == "flex" and shown["attempts"] == 1
        assert "start_waiting" in [e["action"] for e in shown["events"]]
        wait_for(lambda j=job_id: "(flex)" in _card(bot, j), 30, "card never shows the tier")
        assert "Waiting for flex capacity" not in _card(bot, job_id)
    assert stack.show(ask)["service_tier"] == "default"
    refused = stack.openai.requests(endpoint="create", service_tier="flex", status=429)
    assert len(refused) >= 5, "too few refusals to have tripped a breaker anyway"
    assert "holding new launches" not in (stack.logs / "worker0.log").read_text()


@SQLITE
@pytest.mark.kinds(per_kind={"ask": {"service_tier": "priority"}})
def test_an_ask_on_the_priority_tier_is_stored_and_shown_as_such(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    assert bot.command("/ask", "Urgent one [sandbox: duration=2]").status_code == 200
    wait_for(lambda: _jobs(stack, "ask"), 30, "ask job not recorded")
    [job_id] = _jobs(stack, "ask")
    stack.wait_status(job_id, "completed", timeout=40)
    [create] = stack.openai.requests(endpoint="create")
    assert create["service_tier"] == "priority"
    shown = stack.show(job_id)
    assert shown["service_tier"] == "priority" and shown["cost_usd"] > 0
    wait_for(lambda: "(priority)" in _card(bot, job_id), 30, "card never shows the tier")
