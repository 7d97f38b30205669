"""`/_sandbox/*`: the control API tests and the fake Slack client use (not part of Slack).

Faults, reset and the call log drive failure tests; workspace upserts override the
seed; conversation, view and event endpoints let a web page render "what Slack shows".
"""

from __future__ import annotations

from typing import Any

import flask

from sandbox import slack_actions, slack_agents, slack_delivery, slack_streams, slack_views
from sandbox import slack_render as render
from sandbox.slack_control_knobs import knobs
from sandbox.slack_http import bad_request, control_body
from sandbox.slack_render_files import file_object
from sandbox.slack_state import SandboxState
from sandbox.slack_workspace import SandboxChannel, SandboxUser, SandboxUsergroup

JSON = dict[str, Any]


def control_blueprint(state: SandboxState) -> flask.Blueprint:
    """All `/_sandbox` routes bound to one state object."""
    bp = flask.Blueprint("slack_sandbox_control", __name__, url_prefix="/_sandbox")
    _faults_and_calls(bp, state)
    _workspace(bp, state)
    _conversations(bp, state)
    _views_events_tokens(bp, state)
    knobs(bp, state)
    _streams_and_sessions(bp, state)
    slack_actions.register(bp, state, "/client")
    return bp


def _faults_and_calls(bp: flask.Blueprint, state: SandboxState) -> None:
    @bp.get("/health")
    def health() -> flask.Response:
        return flask.jsonify(ok=True, version=state.version)

    @bp.post("/reset")
    def reset() -> flask.Response:
        """Back to the seed and the start-time settings, then `settings` (if given) applied."""
        patch = control_body().get("settings") or {}
        with state.lock:
            state.reset()
            try:
                state.configure(dict(patch))
            except (TypeError, ValueError) as exc:
                return bad_request(str(exc))
            return flask.jsonify(ok=True, version=state.version)

    @bp.route("/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> flask.Response:
        with state.lock:
            if flask.request.method == "DELETE":
                state.faults.clear()
            elif flask.request.method == "POST":
                try:
                    return flask.jsonify(state.faults.add(control_body()))
                except (TypeError, ValueError) as exc:
                    return bad_request(str(exc))
            return flask.jsonify(state.faults.describe())

    @bp.get("/calls")
    def calls() -> flask.Response:
        method = flask.request.args.get("method")
        since = int(flask.request.args.get("since", 0))
        with state.lock:
            found = [c for c in state.calls if c["seq"] > since and method in (None, c["method"])]
        return flask.jsonify(ok=True, calls=found)


def _workspace(bp: flask.Blueprint, state: SandboxState) -> None:
    @bp.get("/workspace")
    def workspace() -> flask.Response:
        s = state.settings
        with state.lock:
            return flask.jsonify(
                ok=True,
                team={"id": s.team_id, "name": s.team_name, "domain": s.team_domain},
                bot={"user_id": s.bot_user_id, "bot_id": s.bot_id, "app_id": s.app_id},
                users=[render.user(state, u) for u in state.users.values()],
                usergroups=[
                    {"id": g.id, "handle": g.handle, "name": g.name, "users": list(g.users)}
                    for g in state.usergroups.values()
                ],
                channels=[
                    render.conversation_state(state, c) for c in state.conversations.values()
                ],
            )

    @bp.post("/users")
    def upsert_user() -> flask.Response:
        try:
            member = SandboxUser.from_json(control_body())
        except KeyError as exc:
            return bad_request(f"missing {exc}")
        with state.lock:
            state.users[member.id] = member
            state.bump("workspace_changed", user=member.id)
        return flask.jsonify(ok=True, user=render.user(state, member))

    @bp.post("/usergroups")
    def upsert_usergroup() -> flask.Response:
        try:
            group = SandboxUsergroup.from_json(control_body())
        except KeyError as exc:
            return bad_request(f"missing {exc}")
        with state.lock:
            state.usergroups[group.id] = group
            state.bump("workspace_changed", usergroup=group.id)
        return flask.jsonify(ok=True, usergroup={"id": group.id, "users": list(group.users)})

    @bp.post("/channels")
    def upsert_channel() -> flask.Response:
        try:
            channel = SandboxChannel.from_json(control_body())
        except KeyError as exc:
            return bad_request(f"missing {exc}")
        with state.lock:
            conv = state.upsert_channel(channel)
            state.bump("channel_changed", channel=conv.id)
            return flask.jsonify(ok=True, channel=render.conversation_state(state, conv))

    @bp.post("/channels/<channel_id>/members")
    def members(channel_id: str) -> flask.Response:
        body = control_body()
        user_id = str(body.get("user") or state.settings.bot_user_id)
        present = (
            body.get("action", "add") == "add" if "member" not in body else bool(body["member"])
        )
        with state.lock:
            if channel_id not in state.conversations:
                return bad_request("channel_not_found", 404)
            state.set_member(channel_id, user_id, present)
            return flask.jsonify(ok=True, members=sorted(state.conversations[channel_id].members))


def _conversations(bp: flask.Blueprint, state: SandboxState) -> None:
    @bp.get("/channels")
    def channels() -> flask.Response:
        with state.lock:
            listed = [
                {**render.conversation_state(state, c), "message_count": len(c.messages)}
                for c in state.conversations.values()
            ]
            return flask.jsonify(ok=True, version=state.version, channels=listed)

    @bp.get("/channels/<channel_id>/messages")
    def messages(channel_id: str) -> flask.Response:
        only_user = flask.request.args.get("user")
        with state.lock:
            conv = state.conversations.get(channel_id)
            if conv is None:
                return bad_request("channel_not_found", 404)
            ephemeral = {
                user: [render.ephemeral_state(e) for e in items]
                for user, items in conv.ephemeral.items()
                if only_user in (None, user)
            }
            return flask.jsonify(
                ok=True,
                version=state.version,
                channel=render.conversation_state(state, conv),
                messages=[render.message_state(state, conv, m) for m in render.top_level(conv)],
                ephemeral=ephemeral,
            )

    @bp.get("/files/<file_id>")
    def file_content(file_id: str) -> flask.Response:
        with state.lock:
            stored = state.files.get(file_id)
            if stored is None or stored.content is None:
                return bad_request("file_not_found", 404)
            return flask.Response(stored.content, mimetype=file_object(state, stored)["mimetype"])


def _views_events_tokens(bp: flask.Blueprint, state: SandboxState) -> None:
    @bp.get("/views/<user_id>")
    def views(user_id: str) -> flask.Response:
        with state.lock:
            return flask.jsonify(slack_views.user_views(state, user_id))

    @bp.post("/views/<user_id>/close")
    def close(user_id: str) -> flask.Response:
        with state.lock:
            slack_views.close_modal(state, user_id, bool(control_body().get("all", False)))
            return flask.jsonify(slack_views.user_views(state, user_id))

    @bp.get("/events")
    def events() -> flask.Response:
        since = int(flask.request.args.get("since", 0))
        timeout = min(
            float(flask.request.args.get("timeout", 0)), state.settings.max_long_poll_seconds
        )
        if timeout > 0:
            state.wait_for_change(since, timeout)
        return flask.jsonify(state.events_since(since))

    @bp.post("/response_urls")
    def mint_response_url() -> flask.Response:
        body = control_body()
        if not body.get("channel_id") or not body.get("user_id"):
            return bad_request("channel_id and user_id are required")
        url = state.new_response_url(
            str(body["channel_id"]), str(body["user_id"]), body.get("message_ts")
        )
        return flask.jsonify(ok=True, response_url=url)

    @bp.post("/triggers")
    def mint_trigger() -> flask.Response:
        user_id = control_body().get("user_id")
        if not user_id:
            return bad_request("user_id is required")
        return flask.jsonify(ok=True, trigger_id=state.new_trigger_id(str(user_id)))


def _streams_and_sessions(bp: flask.Blueprint, state: SandboxState) -> None:
    """What the app streamed, its agent sessions, and what was delivered to it."""

    @bp.get("/streams")
    def streams() -> flask.Response:
        """Every stream with its recorded calls; `?channel=`, `?thread_ts=`, `?ts=` filter."""
        wanted = _filters("channel", "thread_ts", "ts")
        with state.lock:
            found = [slack_streams.stream_state(s) for s in state.streams]
        return flask.jsonify(ok=True, streams=[s for s in found if _matches(s, wanted)])

    @bp.get("/agent_sessions")
    def agent_sessions() -> flask.Response:
        """Each thread's agent session and the statuses it went through."""
        wanted = _filters("channel", "thread_ts")
        with state.lock:
            found = [slack_agents.session_state(s) for s in state.agent_sessions.values()]
        return flask.jsonify(ok=True, sessions=[s for s in found if _matches(s, wanted)])

    @bp.get("/deliveries")
    def deliveries() -> flask.Response:
        """What was sent to the app (kind, type, status, time taken, payload); `?since=N`."""
        since = int(flask.request.args.get("since", 0))
        return flask.jsonify(ok=True, deliveries=slack_delivery.deliveries(state, since))

    @bp.post("/deliveries/<int:seq>/retry")
    def retry(seq: int) -> flask.Response:
        """Send event delivery `seq` again as Slack retries it (`{"reason"}` optional)."""
        reason = str(control_body().get("reason") or "http_timeout")
        try:
            status = slack_delivery.redeliver(state, seq, reason).status_code
        except slack_delivery.ClientError as exc:
            return bad_request(str(exc), 409)
        return flask.jsonify(ok=status == 200, status=status)


def _filters(*names: str) -> dict[str, str]:
    return {k: v for k, v in flask.request.args.items() if k in names}


def _matches(item: JSON, wanted: dict[str, str]) -> bool:
    return all(item.get(key) == value for key, value in wanted.items())
