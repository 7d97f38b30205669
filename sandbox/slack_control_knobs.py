"""`/_sandbox` switches: runtime settings, the rate-limit table, call stats, and the
permanent conditions a test sets up mid-run (an archived or deleted channel).

Slack answers `is_archived` and `channel_not_found` for good once a channel is archived
or gone; these endpoints make that happen between two calls of the app under test.
"""

from __future__ import annotations

import flask

from sandbox import slack_limits
from sandbox import slack_render as render
from sandbox.slack_http import bad_request, control_body
from sandbox.slack_state import SandboxState


def knobs(bp: flask.Blueprint, state: SandboxState) -> None:
    """Register the settings, limits, stats and channel-condition routes on `bp`."""
    _settings(bp, state)
    _channel_conditions(bp, state)


def _settings(bp: flask.Blueprint, state: SandboxState) -> None:
    @bp.route("/settings", methods=["GET", "POST"])
    def settings() -> flask.Response:
        """GET the switches; POST a partial object (`{"rate_limits": "off"}`) to flip some."""
        with state.lock:
            if flask.request.method == "POST":
                try:
                    state.configure(control_body())
                except (TypeError, ValueError) as exc:
                    return bad_request(str(exc))
            return flask.jsonify(ok=True, settings=state.config.describe())

    @bp.get("/limits")
    def limits() -> flask.Response:
        with state.lock:
            return flask.jsonify(slack_limits.describe(state.config))

    @bp.get("/stats")
    def stats() -> flask.Response:
        return flask.jsonify(state.stats())


def _channel_conditions(bp: flask.Blueprint, state: SandboxState) -> None:
    @bp.post("/channels/<channel_id>/archive")
    def archive(channel_id: str) -> flask.Response:
        """`{"archived": false}` unarchives; anything else archives (`is_archived` for writes)."""
        archived = bool(control_body().get("archived", True))
        with state.lock:
            conv = state.conversations.get(channel_id)
            if conv is None:
                return bad_request("channel_not_found", 404)
            conv.archived = archived
            state.bump("channel_changed", channel=channel_id, archived=archived)
            return flask.jsonify(ok=True, channel=render.conversation_state(state, conv))

    @bp.delete("/channels/<channel_id>")
    def delete(channel_id: str) -> flask.Response:
        """The channel is gone: every later call naming it gets `channel_not_found`."""
        with state.lock:
            if state.conversations.pop(channel_id, None) is None:
                return bad_request("channel_not_found", 404)
            state.bump("channel_deleted", channel=channel_id)
            return flask.jsonify(ok=True)
