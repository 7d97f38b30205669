"""Fixtures of the OpenAI stand-in's own tests, loaded with
``pytest_plugins = ["tests.support.openai_fixtures"]`` (never imported directly, so pytest
can rewrite its asserts).
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from sandbox.openai_api import RunningSandbox, start_in_thread
from tests.support.openai_sandbox import API_KEY, FAST, WEBHOOK_SECRET, Receiver, control


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    """One stand-in per test module, in a thread of the test process."""
    running = start_in_thread(settings=FAST)
    yield running
    running.stop()


@pytest.fixture
def sandbox(server: RunningSandbox) -> Iterator[RunningSandbox]:
    """The shared server, reset before each test so counts, faults and config start clean."""
    control(server, "reset")
    yield server


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[openai.OpenAI]:
    """The real SDK, with its default retries."""
    with openai.OpenAI(base_url=sandbox.base_url, api_key=API_KEY) as sdk:
        yield sdk


@pytest.fixture
def strict_client(sandbox: RunningSandbox) -> Iterator[openai.OpenAI]:
    """No retries, so injected faults reach the test."""
    with openai.OpenAI(base_url=sandbox.base_url, api_key=API_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def receiver(sandbox: RunningSandbox) -> Iterator[Receiver]:
    """A webhook endpoint the stand-in is configured to deliver to."""
    hooks = Receiver()
    hooks.thread.start()
    control(sandbox, "config", {"webhook_url": hooks.url, "webhook_secret": WEBHOOK_SECRET})
    yield hooks
    hooks.server.shutdown()
    hooks.server.server_close()
