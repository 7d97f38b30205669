"""A local stand-in for the Slack Web API that the real `slack_sdk.WebClient` can talk to.

Point a client at it with `WebClient(token="xoxb-sandbox", base_url=f"{url}/api/")`.
Every call is recorded, faults can be injected, and the resulting conversation state is
readable under `/_sandbox` (see `slack_control`). Run it from another process with
`python -m sandbox.slack_api --port 8765` (`--port 0` picks a free port and prints it).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox import (
    slack_agents,
    slack_chat,
    slack_directory,
    slack_downloads,
    slack_files,
    slack_history,
    slack_reactions,
    slack_responses,
    slack_streams,
    slack_views,
)
from sandbox.slack_common import SlackError
from sandbox.slack_config import RuntimeSettings, add_runtime_arguments, runtime_patch
from sandbox.slack_control import control_blueprint
from sandbox.slack_http import bearer_token, check_auth, json_response, parse_args, run_recorded
from sandbox.slack_state import SandboxState
from sandbox.slack_workspace import SlackSandboxSettings

JSON = dict[str, Any]
Handler = Callable[[SandboxState, JSON], JSON]
STATE_KEY = "slack_sandbox_state"

METHODS: dict[str, Handler] = {
    **slack_chat.METHODS,
    **slack_directory.METHODS,
    **slack_history.METHODS,
    **slack_reactions.METHODS,
    **slack_streams.METHODS,
    **slack_agents.METHODS,
    **slack_files.METHODS,
    **slack_views.METHODS,
}

__all__ = [
    "METHODS",
    "RunningSandbox",
    "SandboxState",
    "SlackSandboxSettings",
    "create_app",
    "get_state",
    "main",
    "serve",
    "start_in_thread",
]


def create_app(settings: SlackSandboxSettings | None = None) -> flask.Flask:
    """A Flask app serving the Web API, upload/download URLs, response_urls and `/_sandbox`."""
    state = SandboxState(settings or SlackSandboxSettings())
    app = flask.Flask("sandbox.slack_api")
    app.extensions[STATE_KEY] = state
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(_slack_blueprint(state))
    app.register_blueprint(control_blueprint(state))

    @app.before_request
    def _learn_public_url() -> None:
        """Upload and response URLs must point back here; learn where "here" is."""
        if state.public_url is None:
            state.public_url = flask.request.host_url

    return app


def get_state(app: flask.Flask) -> SandboxState:
    """The state behind an app from `create_app` (for tests: `new_response_url`, ...)."""
    state = app.extensions[STATE_KEY]
    assert isinstance(state, SandboxState)
    return state


# -- Slack-facing routes ---------------------------------------------------------------


def _slack_blueprint(state: SandboxState) -> flask.Blueprint:
    """Web API methods plus the URLs Slack hands out (upload, download, response_url)."""
    bp = flask.Blueprint("slack_sandbox_api", __name__)

    @bp.route("/api/<method>", methods=["GET", "POST"])
    def web_api(method: str) -> flask.Response:
        try:
            args = parse_args(flask.request)
        except SlackError as err:
            return json_response(*run_recorded(state, method, {}, _raise(err)))
        return json_response(
            *run_recorded(state, method, args, lambda: _dispatch(state, method, args))
        )

    @bp.post("/upload/v1/<file_id>/<secret>")
    def upload(file_id: str, secret: str) -> flask.Response:
        data = _upload_bytes(flask.request)
        args = {"file_id": file_id, "size": len(data)}

        def store() -> JSON:
            slack_files.receive_upload(state, file_id, secret, data)
            return {"ok": True}

        body, status, headers = run_recorded(state, "upload_url", args, store)
        if body.get("ok"):
            return flask.Response(f"OK - {len(data)}", status=200, mimetype="text/plain")
        return json_response(body, status, headers)

    @bp.get("/files-pri/<ref>/<name>")
    @bp.get("/files-pri/<ref>/download/<name>")
    def file_private(ref: str, name: str) -> flask.Response:
        return slack_downloads.private_file(state, ref, name)

    @bp.get(slack_downloads.SIGN_IN_PATH)
    def sign_in() -> flask.Response:
        return slack_downloads.sign_in(state)

    @bp.post("/_sandbox/response_url/<token>")
    def response_url(token: str) -> flask.Response:
        body = flask.request.get_json(silent=True, force=True)
        args: JSON = body if isinstance(body, dict) else {}
        recorded = {**args, "response_url_token": token}
        return json_response(
            *run_recorded(
                state, "response_url", recorded, lambda: slack_responses.respond(state, token, args)
            )
        )

    return bp


def _raise(err: SlackError) -> Callable[[], JSON]:
    def action() -> JSON:
        raise err

    return action


def _dispatch(state: SandboxState, method: str, args: JSON) -> JSON:
    """Route one Web API call: unknown method, then auth, then rate limit, then the handler."""
    handler = METHODS.get(method)
    if handler is None:
        raise SlackError("unknown_method", extra={"req_method": method})
    check_auth(state, bearer_token(flask.request, args))
    channel = state.channel_key(str(args.get("channel") or args.get("channel_id") or ""))
    state.limits.take(method, channel, state.config)
    return handler(state, args)


def _upload_bytes(request: flask.Request) -> bytes:
    """slack_sdk POSTs raw bytes; browsers and curl may send multipart `file=`."""
    if request.mimetype == "multipart/form-data" and request.files:
        content: bytes = next(iter(request.files.values())).read()
        return content
    return request.get_data(cache=True)


# -- running it ------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    """Per-request access logs drown test output; errors still reach stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class RunningSandbox:
    """A sandbox serving on a background thread; `stop()` shuts it down."""

    app: flask.Flask
    state: SandboxState
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return self.state.base_url()

    @property
    def api_url(self) -> str:
        """What to pass as `WebClient(base_url=...)`."""
        return f"{self.url}/api/"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()


def _bound_server(
    host: str, port: int, settings: SlackSandboxSettings | None, quiet: bool
) -> tuple[flask.Flask, BaseWSGIServer]:
    """A threaded werkzeug server on (host, port); port 0 picks a free one."""
    app = create_app(settings)
    handler = _QuietHandler if quiet else WSGIRequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    state = get_state(app)
    if state.public_url is None:
        shown = "127.0.0.1" if host in {"0.0.0.0", ""} else host
        state.public_url = f"http://{shown}:{server.server_port}"
    return app, server


def start_in_thread(
    host: str = "127.0.0.1", port: int = 0, settings: SlackSandboxSettings | None = None
) -> RunningSandbox:
    """Serve in a daemon thread (tests); the returned handle knows the real port."""
    app, server = _bound_server(host, port, settings, quiet=True)
    thread = threading.Thread(target=server.serve_forever, name="slack-sandbox", daemon=True)
    thread.start()
    return RunningSandbox(app, get_state(app), server, thread)


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    settings: SlackSandboxSettings | None = None,
    quiet: bool = True,
) -> None:
    """Serve in the foreground until interrupted, announcing the URL on stdout first."""
    app, server = _bound_server(host, port, settings, quiet)
    url = get_state(app).base_url()
    print(f"slack sandbox listening on {url} (Web API base_url {url}/api/)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m sandbox.slack_api --port N [--rate-limits off] ...` (see `--help`)."""
    parser = argparse.ArgumentParser(description="Local stand-in for the Slack Web API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--public-url", default=None, help="base URL clients use to reach it")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument("--strict-trigger-ids", action="store_true")
    add_runtime_arguments(parser)
    ns = parser.parse_args(argv)
    try:
        runtime = RuntimeSettings().patched(runtime_patch(ns))
    except ValueError as exc:
        parser.error(str(exc))
    settings = SlackSandboxSettings(
        public_url=ns.public_url, strict_trigger_ids=ns.strict_trigger_ids, runtime=runtime
    )
    serve(ns.host, ns.port, settings, quiet=not ns.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
