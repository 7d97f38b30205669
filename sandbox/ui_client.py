"""What the Slack client does when someone types a command or presses a button.

The page asks; this module does it the way Slack does: mint a response_url and a
trigger_id in the Slack stand-in, build the request Slack would send, sign it with the
app's signing secret (which never leaves Python) and POST it to the bot's
`/slack/events`. What the bot answers in the HTTP body is applied as Slack applies it:
a slash command's ack text becomes an ephemeral message, a modal's `errors` stay on the
modal, an empty ack closes it.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from sandbox import slack_render as render
from sandbox import slack_responses, slack_views
from sandbox import slack_signing as signing
from sandbox.slack_common import SlackError
from sandbox.slack_models import Conversation, Message
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
BOT_TIMEOUT = 10.0  # Slack gives up after 3 s; a local sandbox can be more patient


class ClientError(Exception):
    """Something the page asked for that Slack's client would not offer (a missing message)."""


@dataclass(frozen=True)
class Sent:
    """How the bot answered one request, for the page to show."""

    status: int
    errors: JSON | None = None

    def as_json(self) -> JSON:
        body: JSON = {"ok": self.status == 200, "status": self.status}
        if self.errors:
            body["errors"] = self.errors
        return body


@dataclass(frozen=True)
class SlackClient:
    """The client side of one sandboxed workspace, talking to one bot."""

    state: SandboxState
    bot_url: str
    signing_secret: str

    # -- slash commands ---------------------------------------------------------------

    def command(self, user: str, channel: str, command: str, text: str) -> Sent:
        """A slash command with a fresh response_url and trigger_id, as Slack sends it."""
        with self.state.lock:
            response_url = self.state.new_response_url(channel, user)
            trigger_id = self.state.new_trigger_id(user)
        body = signing.slash_command_body(
            command, text, user, channel, response_url, trigger_id, self.state.settings.team_id
        )
        reply = self._post(body, signing.form_headers(body, self.signing_secret))
        ack = _json(reply)
        if reply.status_code == 200 and (ack.get("text") or ack.get("blocks")):
            self._respond(response_url, ack)  # Slack shows an ack's body to the user
        elif reply.status_code == 200 and reply.text.strip() and not ack:
            self._respond(response_url, {"text": reply.text.strip()})
        return Sent(reply.status_code)

    def _respond(self, response_url: str, body: JSON) -> None:
        token = response_url.rstrip("/").rsplit("/", 1)[-1]
        with self.state.lock, contextlib.suppress(SlackError):
            slack_responses.respond(self.state, token, body)

    # -- buttons ----------------------------------------------------------------------

    def press_in_message(self, user: str, press: JSON) -> Sent:
        """A button on a channel, thread or ephemeral message."""
        channel, ts = str(press["channel"]), str(press["ts"])
        ephemeral = bool(press.get("ephemeral"))
        with self.state.lock:
            conv = self._conversation(channel)
            message = None if ephemeral else render.message(self.state, conv, self._find(conv, ts))
            response_url = self.state.new_response_url(channel, user, ts)
            trigger_id = self.state.new_trigger_id(user)
        body = signing.block_actions_body(
            str(press["action_id"]),
            str(press.get("value") or ""),
            user,
            channel,
            ts,
            trigger_id,
            response_url,
            block_id=str(press.get("block_id") or ""),
            button_text=press.get("text"),
            message=message,
            thread_ts=press.get("thread_ts") or None,
            is_ephemeral=ephemeral,
            team_id=self.state.settings.team_id,
        )
        return self._signed_form(body)

    def press_in_view(self, user: str, press: JSON) -> Sent:
        """A button on the App Home tab or a modal: no response_url, the view rides along."""
        with self.state.lock:
            stored = self.state.views.get(str(press["view_id"]))
            if stored is None:
                raise ClientError("that view is gone")
            view = render.view(self.state, stored)
            trigger_id = self.state.new_trigger_id(user)
        payload = _view_actions_payload(self.state, user, view, press, trigger_id)
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        return self._signed_form(body)

    # -- modals and App Home ----------------------------------------------------------

    def submit(self, user: str, view_id: str, values: JSON) -> Sent:
        """Submit the user's top modal; `errors` keep it open, anything else closes it."""
        with self.state.lock:
            stored = self.state.views.get(view_id)
            if stored is None:
                raise ClientError("that modal is gone")
            view = render.view(self.state, stored)
            trigger_id = self.state.new_trigger_id(user)
        body = signing.view_submission_body(
            str(view["callback_id"]),
            str(view["private_metadata"]),
            _state_values(view, values),
            user,
            view_id=view_id,
            blocks=view["blocks"],
            title=str((view.get("title") or {}).get("text") or ""),
            trigger_id=trigger_id,
            team_id=self.state.settings.team_id,
        )
        reply = self._post(body, signing.form_headers(body, self.signing_secret))
        ack = _json(reply)
        if reply.status_code == 200 and ack.get("response_action") == "errors":
            return Sent(200, errors=dict(ack.get("errors") or {}))
        if reply.status_code == 200:
            self.close(user, close_all=ack.get("response_action") == "clear")
        return Sent(reply.status_code)

    def close(self, user: str, *, close_all: bool = False) -> None:
        """Cancel (or a successful submit): the client pops the modal."""
        with self.state.lock:
            slack_views.close_modal(self.state, user, close_all)

    def open_home(self, user: str) -> Sent:
        """Opening the app's Home tab sends `app_home_opened` through the Events API."""
        with self.state.lock:
            dm, _existed = self.state.open_dm([user])
        body = signing.app_home_opened_body(
            user, channel_id=dm.id, team_id=self.state.settings.team_id
        )
        return self._signed(body, signing.json_headers(body, self.signing_secret))

    # -- plumbing ---------------------------------------------------------------------

    def _conversation(self, channel: str) -> Conversation:
        conv = self.state.conversations.get(channel)
        if conv is None:
            raise ClientError(f"no channel {channel}")
        return conv

    def _find(self, conv: Conversation, ts: str) -> Message:
        msg = conv.messages.get(ts)
        if msg is None or msg.deleted:
            raise ClientError("that message is gone")
        return msg

    def _signed_form(self, body: bytes) -> Sent:
        return self._signed(body, signing.form_headers(body, self.signing_secret))

    def _signed(self, body: bytes, headers: dict[str, str]) -> Sent:
        return Sent(self._post(body, headers).status_code)

    def _post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        try:
            return httpx.post(
                f"{self.bot_url}/slack/events", content=body, headers=headers, timeout=BOT_TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise ClientError(f"the bot did not answer ({type(exc).__name__})") from exc


def _json(reply: httpx.Response) -> JSON:
    """The ack's JSON object body, if it has one."""
    if "json" not in reply.headers.get("content-type", ""):
        return {}
    with contextlib.suppress(ValueError):
        body = reply.json()
        if isinstance(body, dict):
            return body
    return {}


def _state_values(view: JSON, values: JSON) -> JSON:
    """`{block_id: {action_id: value}}` typed in the page, in Slack's `state.values` shape."""
    out: JSON = {}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        block_id, action_id = block.get("block_id"), element.get("action_id")
        if block.get("type") != "input" or not block_id or not action_id:
            continue
        typed = (values.get(block_id) or {}).get(action_id)
        value = None if typed in (None, "") else str(typed)
        out[block_id] = {action_id: {"type": element.get("type"), "value": value}}
    return out


def _view_actions_payload(
    state: SandboxState, user: str, view: JSON, press: JSON, trigger_id: str
) -> JSON:
    """`block_actions` from a view: Slack sends the view, not a message or a response_url."""
    team = state.settings.team_id
    return {
        "type": "block_actions",
        "user": {"id": user, "username": signing.user_name(user), "team_id": team},
        "api_app_id": state.settings.app_id,
        "token": signing.VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": trigger_id,
        "team": {"id": team, "domain": state.settings.team_domain},
        "is_enterprise_install": False,
        "view": view,
        "actions": [
            {
                "action_id": str(press["action_id"]),
                "block_id": str(press.get("block_id") or ""),
                "text": {"type": "plain_text", "text": str(press.get("text") or ""), "emoji": True},
                "value": str(press.get("value") or ""),
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
