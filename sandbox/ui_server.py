"""The page that plays the Slack client, and the few endpoints it calls besides `/_sandbox`.

The page reads everything it shows from the Slack stand-in's `/_sandbox` state (what the
bot actually sent) and knows nothing about jobs. What it does goes through `/ui/api/...`,
where `slack_actions` (shared with the stand-in's `/_sandbox/client/*`) signs it as
Slack would and sends it to the bot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import flask

from sandbox import openai_state, slack_actions
from sandbox.slack_client import SlackClient
from sandbox.slack_delivery import ClientError
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
PAGE_DIR = Path(__file__).parent / "ui"

# Shown under the composer: the provider stand-in reads these from the question itself.
DIRECTIVES = (
    ("[sandbox: duration=20]", "answer after 20 s"),
    ("[sandbox: slow]", "take 10 minutes (try Cancel)"),
    ("[sandbox: fail]", "the provider fails"),
    ("[sandbox: incomplete]", "the answer is cut off"),
    ("[sandbox: queue=5]", "stay queued for 5 s"),
)
COMMANDS = ("/research", "/draft", "/deep", "/ask", "/batch", "/jobs", "/errand")


@dataclass(frozen=True)
class UiConfig:
    """What the page server needs: the Slack state, the bot, the secret, the provider,
    and the URL of Errand's console (the sandbox only links to it; it knows no more)."""

    slack: SandboxState
    bot_url: str
    signing_secret: str
    provider: openai_state.SandboxState
    approvers_group: str
    oncall_group: str
    console_url: str | None = None  # Errand's operator console, when it runs one


def create_ui_app(config: UiConfig) -> flask.Flask:
    """`/` (the page), `/ui/static/*` and `/ui/api/*`."""
    app = flask.Flask("sandbox.ui", static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    slack = config.slack
    target = {
        "request_url": f"{config.bot_url}/slack/events",
        "signing_secret": config.signing_secret,
    }
    slack.configure(target, keep_on_reset=True)  # where the page's requests go, for good

    @app.get("/")
    def page() -> flask.Response:
        return flask.send_from_directory(PAGE_DIR, "index.html", max_age=0)

    @app.get("/ui/static/<path:name>")
    def static(name: str) -> flask.Response:
        return flask.send_from_directory(PAGE_DIR, name, max_age=0)

    @app.get("/ui/api/setup")
    def setup() -> flask.Response:
        return flask.jsonify(_setup(config))

    @app.errorhandler(ClientError)
    def refused(error: ClientError) -> tuple[flask.Response, int]:
        return flask.jsonify(ok=False, error=str(error)), 409

    _command(app, SlackClient(slack))
    slack_actions.register(app, slack, "/ui/api")
    _provider(app, config)
    return app


def _command(app: flask.Flask, client: SlackClient) -> None:
    """The composer's slash commands: only the app's own (Slack knows which it has)."""

    @app.post("/ui/api/command")
    def command() -> flask.Response:
        body = slack_actions.request_body()
        typed = str(body.get("text") or "").strip()
        name, _, text = typed.partition(" ")
        if name not in COMMANDS:
            raise ClientError(f"{name or 'that'} is not a command here; try {', '.join(COMMANDS)}")
        user = slack_actions.user_of(body)
        sent = client.command(user, str(body["channel"]), name, text.strip())
        return flask.jsonify(sent.as_json())


def _provider(app: flask.Flask, config: UiConfig) -> None:
    """The provider stand-in's answer delay, for the page's "answers take N s" control."""

    @app.get("/ui/api/provider")
    def provider() -> flask.Response:
        return flask.jsonify(asdict(config.provider.settings))

    @app.post("/ui/api/provider")
    def configure() -> flask.Response:
        seconds = float(slack_actions.request_body().get("duration") or 0)
        if not 0 < seconds <= 3600:
            raise ClientError("the delay must be between 0 and 3600 seconds")
        queue = min(1.0, seconds / 2)
        patch = {"duration_min": seconds, "duration_max": seconds, "queue_seconds": queue}
        return flask.jsonify(asdict(config.provider.configure(patch)))


def _setup(config: UiConfig) -> JSON:
    """Who the page may act as (with the role the bot's settings give them) and the hints."""
    state = config.slack
    with state.lock:
        groups = {g.id: set(g.users) for g in state.usergroups.values()}
        people = [u for u in state.users.values() if not u.is_bot]
    approvers = groups.get(config.approvers_group, set())
    oncall = groups.get(config.oncall_group, set())
    users = []
    for person in people:
        roles = ["approver"] * (person.id in approvers) + ["on-call"] * (person.id in oncall)
        users.append(
            {"id": person.id, "name": person.name, "real_name": person.real_name, "roles": roles}
        )
    return {
        "team": {"id": state.settings.team_id, "name": state.settings.team_name},
        "app": {
            "name": state.settings.bot_real_name,
            "handle": state.settings.bot_name,
            "bot_user_id": state.settings.bot_user_id,
        },
        "users": users,
        "commands": list(COMMANDS),
        "directives": [{"text": text, "what": what} for text, what in DIRECTIVES],
        "console_url": config.console_url,
    }
