"""Spend: a daily budget per requester that approvers can lift job by job, a cap on one
person's jobs at the provider, launches shared fairly between people, and each job's
true cost (its own model, the tier the provider used, its web searches)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from models.job import Attempt
from models.store.submission import submit
from tests.support.client import HTTP
from tests.support.ledger import stored
from tests.support.procs import free_port, wait_for
from tests.support.slack import BotProcess, buttons, card_text, job_id_of, thread_texts
from tests.support.stack import Stack

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _card(bot: BotProcess, job_id: str) -> dict[str, Any]:
    found = [c for c in bot.slack.cards("C_GENERAL") if job_id_of(c) == job_id]
    return found[0] if found else {}


def _ask(bot: BotProcess, stack: Stack, text: str) -> str:
    """A /research command; returns the new job's ID once its card is posted."""
    before = {job_id_of(c) for c in bot.slack.cards("C_GENERAL")}
    assert bot.command("/research", text).status_code == 200
    wait_for(lambda: len(bot.slack.cards("C_GENERAL")) > len(before), 30, "no card")
    [job_id] = {job_id_of(c) for c in bot.slack.cards("C_GENERAL")} - before
    return job_id


def _request_for(bot: BotProcess, job_id: str) -> dict[str, Any]:
    """The approval request for `job_id` in the approvals channel, once posted."""

    def found() -> list[dict[str, Any]]:
        return [m for m in bot.slack.messages("C_APPROVALS") if job_id in card_text(m)]

    wait_for(found, 30, f"no approval request for {job_id}")
    return found()[0]


@SQLITE
@pytest.mark.kinds(max_output_tokens=3000)
def test_a_job_over_the_daily_budget_waits_for_an_approver(stack: Stack, bot: BotProcess) -> None:
    stack.env["ERRAND_BUDGET_USER_DAILY_USD"] = "0.05"
    stack.start_worker()
    first = _ask(bot, stack, "A first question [sandbox: duration=1]")
    stack.wait_status(first, "completed", timeout=40)
    spent = stored(stack, first)["cost_usd"]
    second = _ask(bot, stack, "A second question [sandbox: duration=1]")
    stack.wait_status(second, "awaiting_approval", timeout=40)
    request = _request_for(bot, second)
    assert buttons(request) == ["job_approve", "job_reject"]
    estimate = stored(stack, second)["attempt_history"][0]["estimate_usd"]
    assert estimate is None  # booked only when it starts
    for figure in ("$0.04", f"${spent:.2f}", "$0.05"):  # estimate, spent today, budget
        assert figure in card_text(request), card_text(request)
    wait_for(lambda: "Waiting for approval" in card_text(_card(bot, second)), 20, "card")
    bot.click("job_approve", second, "U_APPROVER", "C_APPROVALS", request)
    stack.wait_status(second, "completed", timeout=40)
    record = stored(stack, second)
    assert record["decided_by"] == "U_APPROVER"
    assert record["attempt_history"][0]["approved_by"] == "U_APPROVER"

    third = _ask(bot, stack, "A third question [sandbox: duration=1]")
    stack.wait_status(third, "awaiting_approval", timeout=40)
    bot.click("job_reject", third, "U_APPROVER", "C_APPROVALS", _request_for(bot, third))
    wait_for(lambda: bot.slack.views("U_APPROVER")["modals"], 10, "no reason modal")
    modal = bot.slack.views("U_APPROVER")["modals"][-1]
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": "Over budget"}}}
    assert bot.submit_view(modal, "U_APPROVER", values).status_code == 200
    stack.wait_status(third, "rejected", timeout=20)
    wait_for(
        lambda: any("Over budget" in t for t in thread_texts(_card(bot, third))), 20, "no reason"
    )
    assert stack.openai.job(third)["made"] == 0


def _launch_order(stack: Stack) -> list[str]:
    with stack.db.unit() as unit:
        rows = unit.session.execute(
            select(Attempt.job_id)
            .where(Attempt.launched_at.is_not(None))
            .order_by(Attempt.launched_at, Attempt.id)
        ).all()
    return [job_id for (job_id,) in rows]


@POSTGRESQL
def test_another_requesters_jobs_start_within_20_launches_of_a_300_job_flood(
    stack: Stack,
) -> None:
    flood = [
        submit(stack.db, stack.kinds, "research", f"Flood {n}", user="U_FLOOD").id
        for n in range(300)
    ]
    few = [submit(stack.db, stack.kinds, "research", f"Few {n}", user="U_FEW").id for n in range(3)]
    stack.start_worker()
    wait_for(lambda: len(_launch_order(stack)) >= 23, 90, "launches did not start")
    stack.stop_workers()
    order = _launch_order(stack)
    assert [order.index(job_id) for job_id in few] == sorted(order.index(j) for j in few)
    assert max(order.index(job_id) for job_id in few) < 20, order[:23]
    assert flood[0] in order[:2]


@POSTGRESQL
def test_a_requesters_jobs_beyond_the_cap_wait_with_the_reason_while_others_start(
    stack: Stack,
) -> None:
    stack.env["ERRAND_MAX_ACTIVE_PER_USER"] = "2"
    mine = [
        submit(stack.db, stack.kinds, "research", f"Mine {n} [sandbox: duration=6]", user="U_A").id
        for n in range(4)
    ]
    other = submit(stack.db, stack.kinds, "research", "Theirs [sandbox: duration=1]", user="U_B")
    stack.start_worker()
    wait_for(
        lambda: "2 jobs running" in (stored(stack, mine[2])["wait_reason"] or ""),
        30,
        "the waiting job was not told why",
    )
    stack.wait_status(other.id, "completed", timeout=40)
    stack.wait_settled(mine, timeout=90)
    records = [stored(stack, job_id) for job_id in mine]
    assert {r["status"] for r in records} == {"completed"}
    spans = sorted((r["started_at"], r["finished_at"]) for r in records)
    for index, (started, _) in enumerate(spans[2:], start=2):
        running = [s for s in spans[:index] if s[1] > started]
        assert len(running) < 2, spans


def _metric(port: int, name: str, **labels: str) -> float:
    text = HTTP.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


@SQLITE
@pytest.mark.kinds(service_tier="flex")
def test_cost_is_the_jobs_model_at_the_tier_used_plus_its_web_searches(stack: Stack) -> None:
    port = free_port()
    stack.env["ERRAND_METRICS_PORT"] = str(port)
    stack.start_worker()
    job_id = submit(stack.db, stack.kinds, "research", "Priced [sandbox: duration=1]", user="U").id
    stack.wait_status(job_id, "completed", timeout=40)
    record = stored(stack, job_id)
    [response] = stack.openai.responses_for(job_id)
    usage, searches = response["usage"], response["web_search_calls"]
    assert searches >= 1 and record["service_tier"] == "flex"
    tokens = usage["input_tokens"] * 1.75 + usage["output_tokens"] * 14.00  # gpt-5.2, per 1M
    expected = round(tokens * 0.5 / 1_000_000 + searches * 0.01, 6)  # flex: half price
    assert record["cost_usd"] == pytest.approx(expected)
    assert record["attempt_history"][0]["cost_usd"] == pytest.approx(expected)
    wait_for(
        lambda: _metric(port, "errand_cost_usd_total", kind="research") == pytest.approx(expected),
        10,
        "the cost metric was not counted",
    )


@POSTGRESQL
def test_errand_costs_sums_what_each_requester_and_kind_spent(stack: Stack) -> None:
    asked = [("research", "U_ANA"), ("research", "U_ANA"), ("draft", "U_BEN")]
    ids = []
    for kind, user in asked:
        made = stack.cli("jobs", "submit", kind, "A fact [sandbox: duration=1]", "--user", user)
        ids.append(made.stdout.strip())
    stack.start_worker()
    stack.wait_settled(ids, timeout=30)
    cost = {job_id: stack.show(job_id)["cost_usd"] for job_id in ids}
    assert all(value > 0 for value in cost.values())
    by_user = json.loads(stack.cli("costs", "--by", "user", "--json").stdout)
    assert by_user == [
        {"key": key, "jobs": jobs, "cost_usd": pytest.approx(total)}
        for key, jobs, total in sorted(
            [("U_ANA", 2, cost[ids[0]] + cost[ids[1]]), ("U_BEN", 1, cost[ids[2]])],
            key=lambda line: -line[2],
        )
    ]
    table = stack.cli("costs", "--by", "kind").stdout.splitlines()
    assert table[0].split() == ["KIND", "JOBS", "COST_USD"] and table[-1].split()[:2] == [
        "total",
        "3",
    ]
    assert stack.cli("costs", "--since", "2999-01-01", "--json").stdout.strip() == "[]"
    refused = stack.cli("costs", "--by", "moon")
    assert refused.returncode == 2 and "invalid choice" in refused.stderr
