"""A worker that falls behind on results launches less, and never stops launching."""

from __future__ import annotations

import pytest

from worker.pressure import BEHIND_POLLING, BEHIND_WEBHOOKS, TRICKLE, Pressure


@pytest.mark.parametrize("webhooks", [False, True])
def test_on_time_launches_the_full_batch(webhooks: bool) -> None:
    pressure = Pressure(webhooks=webhooks)
    assert pressure.launch_limit(300) == 300
    pressure.report("follow", pressure.behind / 2)
    pressure.report("notify", 0.0)
    assert pressure.launch_limit(300) == 300


def test_behind_launches_fewer_the_further_behind_and_never_none() -> None:
    pressure = Pressure()
    pressure.report("follow", 0.0)
    pressure.report("notify", BEHIND_POLLING)
    assert pressure.launch_limit(300) == TRICKLE
    pressure.report("notify", BEHIND_POLLING * 5)
    assert pressure.launch_limit(300) == TRICKLE // 5
    pressure.report("notify", 3600.0)
    assert pressure.launch_limit(300) == 1


def test_with_webhooks_launches_yield_sooner() -> None:
    """Half a second late is on time for polling, late for a webhook's promise."""
    late = (BEHIND_WEBHOOKS + BEHIND_POLLING) / 2
    polling, webhooks = Pressure(), Pressure(webhooks=True)
    for pressure in (polling, webhooks):
        pressure.report("follow", late)
    assert polling.launch_limit(300) == 300
    assert webhooks.launch_limit(300) < 300


def test_caught_up_launches_the_full_batch_again() -> None:
    pressure = Pressure()
    pressure.report("follow", BEHIND_POLLING * 10)
    pressure.report("follow", 0.1)
    assert pressure.launch_limit(300) == 300
