"""The stand-in's control API under ``/_sandbox`` (not part of OpenAI's API).

Tests, benchmarks and the demo use it to set defaults, inject faults, reset, and read what the
client actually did (calls per endpoint and per response), which the real API never exposes.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, request

from sandbox.openai_http import error, json_response, state
from sandbox.openai_state import ENDPOINTS, Fault

control = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")


@control.get("/health")
def health() -> Response:
    """Readiness probe for launchers that start the stand-in as a separate process."""
    return json_response({"ok": True})


@control.get("/config")
def get_config() -> Response:
    """Current defaults for new responses and webhooks."""
    return json_response(asdict(state().settings))


@control.post("/config")
def set_config() -> Response:
    """Change some defaults; keys are the fields of ``SandboxOpenAISettings``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "Expected a JSON object of settings.")
    try:
        settings = state().configure(body)
    except ValueError as exc:
        return error(400, str(exc))
    return json_response(asdict(settings))


@control.post("/faults")
def add_faults() -> Response:
    """Queue one fault (object) or several (array) for the next matching calls."""
    body = request.get_json(silent=True)
    specs = body if isinstance(body, list) else [body]
    try:
        faults = [_fault(spec) for spec in specs]
    except (TypeError, ValueError) as exc:
        return error(400, f"Invalid fault: {exc}")
    for fault in faults:
        state().add_fault(fault)
    return json_response({"faults_pending": state().stats()["faults_pending"]})


def _fault(spec: Any) -> Fault:
    """Validate ``{"endpoint", "status", "count", "retry_after", "delay", "answer_delay"}``."""
    if not isinstance(spec, dict):
        raise TypeError("expected an object")
    endpoint = spec.get("endpoint")
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}")
    status = spec.get("status")
    if status is not None and not 400 <= int(status) <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    retry_after = spec.get("retry_after")
    return Fault(
        endpoint=endpoint,
        status=None if status is None else int(status),
        remaining=max(1, int(spec.get("count", 1))),
        retry_after=None if retry_after is None else float(retry_after),
        delay=max(0.0, float(spec.get("delay", 0.0))),
        answer_delay=max(0.0, float(spec.get("answer_delay", 0.0))),
    )


@control.post("/reset")
def reset() -> Response:
    """Forget all responses, faults, counts and config changes."""
    state().reset()
    return json_response({"ok": True})


@control.get("/stats")
def stats() -> Response:
    """Call counts per endpoint and per response, with each response's current status."""
    return json_response(state().stats())


@control.get("/responses")
def list_responses() -> Response:
    """Stored responses, oldest first.

    ``?status=S`` filters on the current status; every other parameter filters on metadata,
    with or without a ``metadata.`` prefix (``?job_id=J`` or ``?metadata.job_id=J``).
    """
    args = request.args.to_dict()
    status = args.pop("status", None)
    wanted = {k.removeprefix("metadata."): v for k, v in args.items()}
    found = state().list_responses(wanted, status)
    return json_response({"object": "list", "data": found})
