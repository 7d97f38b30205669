"""GET /metrics: the operator's families, with the worker's counters added up by the bot."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.client import HTTP
from tests.support.procs import free_port
from tests.support.slack import BotProcess, job_id_of
from tests.support.stack import Stack
from tests.test_bot_flow import card_showing, replies_with

FAMILIES = {
    "errand_jobs",
    "errand_queue_depth",
    "errand_result_lag_seconds",
    "errand_provider_calls",
    "errand_slack_calls",
    "errand_slack_rate_limited",
    "errand_follow_check_slack_seconds",
    "errand_metrics_source_up",
    "errand_streams_opened",
    "errand_streams_open",
}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def shared(stack: Stack, tmp_path: Path) -> Stack:
    """Multiprocess mode, as `errand run` sets it up: bot and worker write one directory."""
    directory = tmp_path / "metrics"
    directory.mkdir()
    stack.env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return stack


def _scrape(bot: BotProcess) -> tuple[set[str], Samples]:
    answer = HTTP.get(f"{bot.url}/metrics", timeout=10)
    assert answer.status_code == 200
    names: set[str] = set()
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        names.add(family.name)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return names, samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_metrics_show_the_job_the_calls_and_the_lag(shared: Stack, bot: BotProcess) -> None:
    bot.slack.fault(method="chat.update", status=429, count=1, retry_after=1)
    shared.start_worker()
    bot.command("/research", "Measure me [sandbox: duration=2]")
    card = card_showing(bot, "C_GENERAL", "Completed")
    replies_with(bot, "C_GENERAL", "Result of job")
    shared.wait_status(job_id_of(card), "completed")
    names, samples = _scrape(bot)
    assert names >= FAMILIES
    assert _value(samples, "errand_jobs", status="completed", kind="research") == 1
    assert _value(samples, "errand_jobs", status="running", kind="research") == 0
    assert ("errand_queue_depth", frozenset({("queue", "errand-control")})) in samples
    assert _value(samples, "errand_provider_calls_total", endpoint="create", outcome="ok") == 1
    # Followed over its event stream, not polled (no webhooks here).
    assert _value(samples, "errand_provider_calls_total", endpoint="stream", outcome="ok") == 1
    assert _value(samples, "errand_streams_opened_total", phase="start") == 1
    assert _value(samples, "errand_streams_open") == 0
    assert _value(samples, "errand_slack_calls_total", method="chat.postMessage", outcome="ok") >= 2
    assert _value(samples, "errand_slack_rate_limited_total", method="chat.update") >= 1
    assert _value(samples, "errand_result_lag_seconds_count") == 1
    assert 0 <= _value(samples, "errand_result_lag_seconds_sum") < 10
    assert _value(samples, "errand_slack_requests_total", type="command") >= 1
    assert _value(samples, "errand_metrics_source_up", source="database") == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_healthz_says_which_dependency_answers(stack: Stack, bot: BotProcess) -> None:
    answer = bot.healthz()
    assert answer.status_code == 200
    assert answer.json() == {"database": "ok", "redis": "ok"}


@pytest.fixture
def metrics_port(stack: Stack) -> int:
    """ERRAND_METRICS_PORT for the bot; ask for it before `bot`."""
    port = free_port()
    stack.env["ERRAND_METRICS_PORT"] = str(port)
    return port


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_bot_serves_metrics_on_a_port_of_its_own(
    stack: Stack, metrics_port: int, bot: BotProcess
) -> None:
    assert bot.command("/research", "Counted [sandbox: duration=60]").status_code == 200
    answer = HTTP.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
    assert answer.status_code == 200
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }
    assert _value(samples, "errand_jobs", status="queued", kind="research") == 1
    assert _value(samples, "errand_slack_requests_total", type="command") >= 1
    refused = HTTP.post(f"http://127.0.0.1:{metrics_port}/slack/events", content=b"{}")
    assert refused.status_code == 404  # Slack's endpoint is not on the metrics port
