"""The stand-in's control API under ``/_sandbox`` (not part of OpenAI's API).

Tests, benchmarks and the demo use it to set defaults, inject faults, reset, and read what the
client actually did (calls per endpoint, per response and per job, and the request log),
which the real API never exposes.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, request

from sandbox.openai_faults import parse_fault
from sandbox.openai_http import error, json_response, state

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
    """Queue one fault (object) or several (array); see ``sandbox.openai_faults``."""
    body = request.get_json(silent=True)
    specs = body if isinstance(body, list) else [body]
    now = state().now()
    try:
        faults = [parse_fault(spec, now) for spec in specs]
    except (TypeError, ValueError) as exc:
        return error(400, f"Invalid fault: {exc}")
    for fault in faults:
        state().add_fault(fault)
    return json_response({"faults_pending": state().faults.pending(now)})


@control.get("/faults")
def list_faults() -> Response:
    """Faults still able to fire."""
    return json_response({"faults_pending": state().faults.pending(state().now())})


@control.delete("/faults")
def clear_faults() -> Response:
    """Drop every pending fault (an outage ends now)."""
    state().faults.clear()
    return json_response({"faults_pending": []})


@control.post("/reset")
def reset() -> Response:
    """Forget all responses, faults, counts and config changes."""
    state().reset()
    return json_response({"ok": True})


@control.get("/stats")
def stats() -> Response:
    """Call counts per endpoint and per response, and what was made per job (orphans too)."""
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


@control.get("/requests")
def list_requests() -> Response:
    """The request log, oldest first.

    Filters: ``endpoint``, ``method``, ``path``, ``status`` and the logged body fields
    (``background``, ``store``, ``stream``, ``service_tier``, ``model``,
    ``previous_response_id``, ``max_output_tokens``) equal a JSON literal (``true``, ``null``,
    ``200``, or a bare string); ``metadata.KEY=V``; ``header=NAME`` (the header was sent);
    ``since=SEQ`` (entries after that sequence number); ``limit=N`` (the last N).
    """
    found = state().log.select(request.args.to_dict())
    return json_response({"object": "list", "data": found})


@control.delete("/requests")
def clear_requests() -> Response:
    """Empty the request log (``POST /_sandbox/requests/reset`` does the same)."""
    state().log.clear()
    return json_response({"ok": True})


@control.post("/requests/reset")
def reset_requests() -> Response:
    """Empty the request log."""
    return clear_requests()
