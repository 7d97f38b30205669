"""A woken pulse ticks at once, even when the wake comes while its tick is running; a tick
that fails is counted for the operator, and the pulse goes on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from redis import Redis

from models.signals import wake
from tests.support.procs import wait_for
from worker.pulse import Pulse, Pulses

PERIOD = 60.0  # far longer than any wait below: only a wake can explain a second tick


class Ticks:
    """A pulse's work that records when it ran and can be held mid-tick."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.release = threading.Event()
        self.release.set()

    def run(self) -> str:
        self.started.append(time.monotonic())
        self.release.wait(10)
        return "ok"


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def ticks(redis: Redis) -> Iterator[Ticks]:
    ticks = Ticks()
    running = Pulses(redis, [Pulse("probe", ticks.run, PERIOD, woken=True)])
    running.start()
    wait_for(lambda: len(ticks.started) == 1, 5, "the first tick did not run")
    yield ticks
    ticks.release.set()
    running.stop(grace=5)


def test_a_wake_runs_the_next_tick_before_the_period(redis: Redis, ticks: Ticks) -> None:
    time.sleep(0.3)
    assert len(ticks.started) == 1
    wake(redis, "probe")
    wait_for(lambda: len(ticks.started) == 2, 2, "the wake did not start a tick")


def test_a_wake_during_a_tick_runs_another_right_after(redis: Redis, ticks: Ticks) -> None:
    ticks.release.clear()
    wake(redis, "probe")
    wait_for(lambda: len(ticks.started) == 2, 2, "the wake did not start a tick")
    wake(redis, "probe")  # while the second tick is held
    time.sleep(0.3)
    ticks.release.set()
    wait_for(lambda: len(ticks.started) == 3, 2, "the wake during the tick was lost")


def test_a_failing_tick_is_counted_and_the_pulse_goes_on(redis: Redis) -> None:
    """The operator sees failed ticks on /metrics; the log alone is easy to miss."""
    ran: list[float] = []

    def run() -> str:
        ran.append(time.monotonic())
        if len(ran) == 1:
            raise ConnectionError("the database went away")
        return "ok"

    failures = _tick_failures("faulty")
    running = Pulses(redis, [Pulse("faulty", run, PERIOD, woken=True)])
    running.start()
    try:
        wait_for(lambda: len(ran) == 1, 5, "the first tick did not run")
        wait_for(lambda: _tick_failures("faulty") == failures + 1, 2, "the failure was not counted")
        wake(redis, "faulty")
        wait_for(lambda: len(ran) == 2, 2, "no tick after the failed one")
        assert _tick_failures("faulty") == failures + 1
    finally:
        running.stop(grace=5)


def _tick_failures(pulse: str) -> float:
    value = REGISTRY.get_sample_value("errand_pulse_tick_failures_total", {"pulse": pulse})
    return value or 0.0
