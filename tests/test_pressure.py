"""Launches slow down for a growing backlog of late checks and results, not for one late
tick; and they go as fast as the provider's request budget allows, no faster."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis

from models.db import Database
from models.kinds import load_kinds
from models.store.attempt import record_response
from models.store.backlog import overdue
from models.store.claim import LaunchRules, claim_launches
from models.store.submission import submit
from worker.pace import Pace
from worker.pressure import BEHIND, TRICKLE, WINDOW, Pressure

FULL = 50
TICK = 0.3  # seconds between launch ticks


def _limits(backlogs: list[int]) -> list[int]:
    """The launch limit at each tick, one tick every TICK seconds, for these backlogs."""
    seen = iter(backlogs)
    clock = iter(i * TICK for i in range(len(backlogs)))
    now = [0.0]

    def tick() -> float:
        now[0] = next(clock)
        return now[0]

    pressure = Pressure(lambda: next(seen), clock=tick)
    return [pressure.launch_limit(FULL) for _ in backlogs]


def test_one_late_tick_does_not_throttle_launches() -> None:
    assert _limits([0, 0, 40, 0, 0, 0, 25, 0, 0]) == [FULL] * 9


def test_a_backlog_that_grows_over_several_ticks_throttles_to_a_trickle() -> None:
    limits = _limits([2, 4, 7, 9, 12, 15, 20])
    ticks = int(WINDOW * 0.75 / TICK)  # the window must be mostly covered first
    assert limits[:ticks] == [FULL] * ticks
    assert limits[-1] == TRICKLE


def test_a_backlog_draining_gives_full_launches_back_before_it_is_gone() -> None:
    limits = _limits([5, 8, 12, 15, 18, 15, 12, 9, 6, 3])
    assert TRICKLE in limits
    assert limits[-2:] == [FULL, FULL]  # smaller now than the window's first sample


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_backlog_counts_late_checks_not_a_burst_of_queued_cards(database_url: str) -> None:
    db, kinds = Database.connect(database_url), load_kinds(None)
    for n in range(20):  # 20 "queued" cards due now: Slack's pace, not ours
        submit(db, kinds, "research", f"Question {n}", user="U_A", channel="C_GENERAL")
    assert overdue(db, by=BEHIND) == 0
    rules = LaunchRules(lease=timedelta(seconds=60), unknown_wait=timedelta(seconds=60))
    launches = claim_launches(db, kinds, rules, limit=4)
    for i, launch in enumerate(launches):  # two checks due 2 s ago, two due now
        with db.unit() as unit:
            first_check = timedelta(seconds=-2 if i < 2 else 0)
            record_response(
                unit.session, launch.job_id, launch.attempt, f"resp_{i}", "queued",
                first_check=first_check,
            )  # fmt: skip
    assert overdue(db, by=BEHIND) == 2
    db.engine.dispose()


@pytest.fixture
def pace(redis_url: str) -> Iterator[Pace]:
    client = redis.Redis.from_url(redis_url)
    yield Pace(client)
    client.close()


def _budget(limit: int, remaining: int) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": "6s",
    }


def test_launches_spend_the_budget_the_provider_reports(pace: Pace) -> None:
    assert pace.allowed(8) == 8  # nothing reported yet: the provider's 429s will tell
    pace.note(200, _budget(1000, 60))  # 5 % (50) kept for reads and cancels
    assert [pace.allowed(8), pace.allowed(8), pace.allowed(8)] == [8, 2, 0]
    pace.give_back(2)
    assert pace.allowed(8) == 2


def test_a_429_pauses_launches_for_its_retry_after(pace: Pace) -> None:
    pace.note(429, {**_budget(1000, 900), "retry-after": "20"})
    assert pace.allowed(8) == 0
