"""A worker that falls behind on results launches less, and never stops launching."""

from __future__ import annotations

from worker.pressure import BEHIND, TRICKLE, Pressure


def test_on_time_launches_the_full_batch() -> None:
    pressure = Pressure()
    assert pressure.launch_limit(300) == 300
    pressure.report("follow", BEHIND / 2)
    pressure.report("notify", 0.0)
    assert pressure.launch_limit(300) == 300


def test_behind_launches_fewer_the_further_behind_and_never_none() -> None:
    pressure = Pressure()
    pressure.report("follow", 0.0)
    pressure.report("notify", BEHIND)
    assert pressure.launch_limit(300) == TRICKLE
    pressure.report("notify", BEHIND * 5)
    assert pressure.launch_limit(300) == TRICKLE // 5
    pressure.report("notify", 3600.0)
    assert pressure.launch_limit(300) == 1


def test_caught_up_launches_the_full_batch_again() -> None:
    pressure = Pressure()
    pressure.report("follow", BEHIND * 10)
    pressure.report("follow", 0.1)
    assert pressure.launch_limit(300) == 300
