"""`url_private` downloads: a file's bytes for a token that may read it, served as Slack
serves them, which is not kindly.

Without a token, or with one Slack refuses, there is no 401: the answer is a redirect to
the workspace's sign-in page, which answers 200 with HTML, so a client that follows
redirects gets a web page where it expected the file. A file the app cannot see (a
person's upload never submitted to it nor shared where it is) is a 404 page, as is a
file that does not exist. Downloads pass through the recorder and the fault plan as the
method `file_download`, so a test can fail them or hold their answer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import flask

from sandbox import slack_files
from sandbox.slack_common import SlackError
from sandbox.slack_http import bearer_token, run_recorded
from sandbox.slack_models import StoredFile
from sandbox.slack_render_files import file_object
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
METHOD = "file_download"
NOT_HERE_PAGE = "<!DOCTYPE html><html><body><h1>{status}</h1>That file is not here.</body></html>"
SIGN_IN_PATH = "/signin"
SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Sign in | Slack</title></head><body>"
    "<h1>Sign in to {domain}</h1><form><input name='email'><button>Continue</button></form>"
    "</body></html>"
)


def private_file(state: SandboxState, ref: str, name: str) -> flask.Response:
    """GET `url_private` / `url_private_download`."""
    request = flask.request
    token = bearer_token(request, {})
    found: dict[str, StoredFile] = {}

    def fetch() -> JSON:
        if token is None or not state.settings.token_is_valid(token):
            raise SlackError("not_authed", status=302)
        stored = slack_files.download(state, ref)
        if not slack_files.visible_to_app(state, stored):
            raise SlackError("file_not_found", status=404)
        found["file"] = stored
        return {"ok": True, "file": stored.id, "size": len(stored.content or b"")}

    _body, status, _headers = run_recorded(state, METHOD, {"file": ref}, fetch)
    if status == 302:
        where = f"{state.base_url()}{SIGN_IN_PATH}?redir={quote(request.path)}"
        return flask.Response("", status=302, headers={"Location": where})
    if status != 200 or "file" not in found:
        return _page(NOT_HERE_PAGE.format(status=status), status)
    return _content(state, found["file"], name, "/download/" in request.path)


def _content(state: SandboxState, stored: StoredFile, name: str, download: bool) -> flask.Response:
    with state.lock:
        mimetype = file_object(state, stored)["mimetype"]
        content = stored.content or b""
    headers = {"Content-Disposition": f'attachment; filename="{name}"'} if download else {}
    return flask.Response(content, mimetype=mimetype, headers=headers)


def sign_in(state: SandboxState) -> flask.Response:
    """Where a download without a usable token lands: a web page, status 200."""
    return _page(SIGN_IN_PAGE.format(domain=state.settings.team_domain), 200)


def _page(html: str, status: int) -> flask.Response:
    return flask.Response(html, status=status, mimetype="text/html")
