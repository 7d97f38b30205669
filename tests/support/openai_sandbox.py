"""Shared pieces of the OpenAI stand-in's own tests: control calls, SDK helpers, spec checks.

The fixtures are in ``tests.support.openai_fixtures``, which test modules load as a plugin.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import openai
import pytest
import yaml
from openai.types.responses import Response
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.serving import WSGIRequestHandler, make_server

from sandbox.openai_api import RunningSandbox, SandboxOpenAISettings
from tests.support.client import HTTP

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "reference" / "openai-openapi.yaml"
SPEC_URI = "urn:openai:openapi"
WEBHOOK_SECRET = "whsec_c2FuZGJveC13ZWJob29rLXNlY3JldC1mb3ItdGVzdHM="
MODEL = "o3-deep-research"
API_KEY = "sk-sandbox-test-key-0123456789abcdef"
FAST = SandboxOpenAISettings(duration_min=0.6, duration_max=0.6, queue_seconds=0.2)


# -- control API and SDK helpers ------------------------------------------------------------------


def control(server: RunningSandbox, path: str, body: Any = None) -> Any:
    """POST to the ``/_sandbox`` control API."""
    answer = HTTP.post(f"{server.url}/_sandbox/{path}", json=body)
    answer.raise_for_status()
    return answer.json()


def inspect(server: RunningSandbox, path: str, **params: Any) -> Any:
    """GET from the ``/_sandbox`` control API."""
    answer = HTTP.get(f"{server.url}/_sandbox/{path}", params=params or None)
    answer.raise_for_status()
    return answer.json()


def create(client: openai.OpenAI, text: str, **kwargs: Any) -> Response:
    """A background create, as Errand's worker makes them."""
    created: Response = client.responses.create(model=MODEL, input=text, background=True, **kwargs)
    return created


def wait_for(client: openai.OpenAI, response_id: str, timeout: float = 5.0) -> Response:
    """Poll until terminal, as Errand's worker does."""
    deadline = time.monotonic() + timeout
    while True:
        found = client.responses.retrieve(response_id)
        if found.status not in ("queued", "in_progress") or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def snapshot(event: object) -> Response:
    """The ``response`` a lifecycle stream event carries (created, in_progress, completed)."""
    found = getattr(event, "response", None)
    assert isinstance(found, Response), event
    return found


def raw(server: RunningSandbox, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A plain HTTP call to ``/v1`` with a valid key, to see exactly what goes on the wire."""
    headers = {"Authorization": f"Bearer {API_KEY}", **kwargs.pop("headers", {})}
    return HTTP.request(method, f"{server.base_url}{path}", headers=headers, **kwargs)


def sse(text: str) -> list[dict[str, Any]]:
    """The events of a Server-Sent Events body, checking each frame's ``event:`` line."""
    events = []
    for frame in (f for f in text.split("\n\n") if f):
        kind, data = frame.split("\n", 1)
        event = json.loads(data.removeprefix("data: "))
        assert kind == f"event: {event['type']}"
        events.append(event)
    return events


# -- conformance with OpenAI's OpenAPI description ------------------------------------------------


def _null_for_nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` means nothing to JSON Schema 2020-12; spell it out."""
    if isinstance(node, list):
        return [_null_for_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _null_for_nullable(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def _registry() -> Registry:
    spec = yaml.load(SPEC_PATH.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert spec["openapi"].startswith("3.1")  # 3.1 schemas are JSON Schema 2020-12
    resource = Resource.from_contents(_null_for_nullable(spec), default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(SPEC_URI, resource)
    return registry


def need_spec() -> None:
    """Skip when the OpenAPI description is not on this machine."""
    if not SPEC_PATH.exists():
        pytest.skip(f"OpenAI OpenAPI description not found at {SPEC_PATH}")


def assert_matches(instance: Any, schema_name: str) -> None:
    """``instance`` validates against ``#/components/schemas/<schema_name>``."""
    need_spec()
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    validator = jsonschema.Draft202012Validator(schema, registry=_registry())
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors)


# -- webhooks -------------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class Receiver:
    """A tiny webhook endpoint that records deliveries and can refuse the first few."""

    def __init__(self, refuse: int = 0) -> None:
        self.deliveries: queue.Queue[tuple[bytes, dict[str, str]]] = queue.Queue()
        self.refuse = refuse
        self.server = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler
        )
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self.server.port}/hooks/openai"

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size)
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k[:5] == "HTTP_"
        }
        self.deliveries.put((body, headers))
        status = "500 Internal Server Error" if self.refuse > 0 else "200 OK"
        self.refuse -= 1
        start_response(status, [("Content-Type", "text/plain")])
        return [b"ok"]

    def next(self, timeout: float = 5.0) -> tuple[bytes, dict[str, str]]:
        """The next delivery (body, headers)."""
        return self.deliveries.get(timeout=timeout)
