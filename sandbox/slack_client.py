"""What the Slack client does when someone types a command, presses a button or submits.

The page (and the control API) asks; this module does it the way Slack does: mint a
response_url and a trigger_id, build the request Slack would send, sign it and post it
to the app (`slack_delivery`). What the app answers in the HTTP body is applied as Slack
applies it: a slash command's ack text becomes an ephemeral message, a modal's `errors`
stay on the modal, `update` and `push` show the view answered, an empty ack closes it.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sandbox import slack_delivery as delivery
from sandbox import slack_render as render
from sandbox import slack_responses, slack_views
from sandbox import slack_signing as signing
from sandbox.slack_common import SlackError
from sandbox.slack_delivery import ClientError, Sent
from sandbox.slack_models import Conversation, Message
from sandbox.slack_people import submitted_files
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]


@dataclass(frozen=True)
class SlackClient:
    """The client side of one sandboxed workspace."""

    state: SandboxState

    # -- slash commands ---------------------------------------------------------------

    def command(self, user: str, channel: str, command: str, text: str) -> Sent:
        """A slash command with a fresh response_url and trigger_id, as Slack sends it."""
        with self.state.lock:
            response_url = self.state.new_response_url(channel, user)
            trigger_id = self.state.new_trigger_id(user)
        body = signing.slash_command_body(
            command, text, user, channel, response_url, trigger_id, self.state.settings.team_id
        )
        reply = delivery.post_form(self.state, body, "slash_command")
        ack = delivery.ack_json(reply)
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

    def press(self, user: str, press: JSON) -> Sent:
        """A button, 👍/👎 or icon button, on a message or in a view."""
        if press.get("view_id"):
            return self.press_in_view(user, press)
        return self.press_in_message(user, press)

    def press_in_message(self, user: str, press: JSON) -> Sent:
        """On a channel, thread or ephemeral message."""
        channel, ts = str(press["channel"]), str(press["ts"])
        ephemeral = bool(press.get("ephemeral"))
        with self.state.lock:
            conv = self.conversation(channel)
            message = None if ephemeral else render.message(self.state, conv, self.find(conv, ts))
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
            action_type=_element_type(message, press),
            team_id=self.state.settings.team_id,
        )
        return Sent(delivery.post_form(self.state, body, "block_actions").status_code)

    def press_in_view(self, user: str, press: JSON) -> Sent:
        """On the App Home tab or a modal: no response_url, the view rides along."""
        with self.state.lock:
            stored = self.state.views.get(str(press["view_id"]))
            if stored is None:
                raise ClientError("that view is gone")
            view = render.view(self.state, stored)
            trigger_id = self.state.new_trigger_id(user)
        payload = _view_actions_payload(self.state, user, view, press, trigger_id)
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        return Sent(delivery.post_form(self.state, body, "block_actions").status_code)

    # -- modals and App Home ----------------------------------------------------------

    def submit(self, user: str, view_id: str, values: JSON) -> Sent:
        """Submit the user's top modal; `errors` keep it open, anything else closes it."""
        with self.state.lock:
            stored = self.state.views.get(view_id)
            if stored is None:
                raise ClientError("that modal is gone")
            view = render.view(self.state, stored)
            state_values = _state_values(self.state, user, view, values)
            trigger_id = self.state.new_trigger_id(user)
        body = signing.view_submission_body(
            str(view["callback_id"]),
            str(view["private_metadata"]),
            state_values,
            user,
            view_id=view_id,
            blocks=view["blocks"],
            title=str((view.get("title") or {}).get("text") or ""),
            trigger_id=trigger_id,
            team_id=self.state.settings.team_id,
        )
        reply = delivery.post_form(self.state, body, "view_submission")
        ack = delivery.ack_json(reply)
        action = ack.get("response_action") if reply.status_code == 200 else None
        if action == "errors":
            return Sent(200, errors=dict(ack.get("errors") or {}))
        if action in ("update", "push"):
            self._answer_with_view(user, view_id, ack.get("view"), push=action == "push")
        elif reply.status_code == 200:
            self.close(user, close_all=action == "clear")
        return Sent(reply.status_code)

    def _answer_with_view(self, user: str, view_id: str, view: object, *, push: bool) -> None:
        """The modal stays open with the view the app answered; one Slack would refuse
        leaves the person looking at an error, as in Slack."""
        with self.state.lock:
            try:
                slack_views.answer_with_view(self.state, user, view_id, view, push=push)
            except SlackError as exc:
                raise ClientError(f"the app answered with a view Slack refuses: {exc}") from exc

    def close(self, user: str, *, close_all: bool = False) -> None:
        """Cancel (or a successful submit): the client pops the modal."""
        with self.state.lock:
            slack_views.close_modal(self.state, user, close_all)

    def open_home(self, user: str) -> Sent:
        """Opening the app's Home tab sends `app_home_opened` through the Events API."""
        with self.state.lock:
            dm, _existed = self.state.open_dm([user])
            subscribed = "app_home_opened" in self.state.config.bot_events
        if not subscribed:
            return Sent(200)
        body = signing.app_home_opened_body(
            user, channel_id=dm.id, team_id=self.state.settings.team_id
        )
        return Sent(delivery.post_event(self.state, body).status_code)

    # -- lookups ----------------------------------------------------------------------

    def conversation(self, channel: str) -> Conversation:
        conv = self.state.conversations.get(channel)
        if conv is None:
            raise ClientError(f"no channel {channel}")
        return conv

    def find(self, conv: Conversation, ts: str) -> Message:
        msg = conv.messages.get(ts)
        if msg is None or msg.deleted:
            raise ClientError("that message is gone")
        return msg


def _element_type(message: JSON | None, press: JSON) -> str:
    """The pressed element's type as the message holds it (feedback_buttons, icon_button)."""
    for block in (message or {}).get("blocks") or []:
        if press.get("block_id") and block.get("block_id") != press.get("block_id"):
            continue
        for element in block.get("elements") or [block.get("accessory") or {}]:
            if isinstance(element, dict) and element.get("action_id") == press["action_id"]:
                return str(element.get("type") or "button")
    return "button"


def _state_values(state: SandboxState, user: str, view: JSON, values: JSON) -> JSON:
    """`{block_id: {action_id: value}}` from the page, in Slack's `state.values` shape.

    A `file_input` takes a list of file ids the person uploaded (`POST .../upload`) and
    carries their file objects, as Slack does.
    """
    out: JSON = {}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        block_id, action_id = block.get("block_id"), element.get("action_id")
        if block.get("type") != "input" or not block_id or not action_id:
            continue
        typed = (values.get(block_id) or {}).get(action_id)
        if element.get("type") == "file_input":
            files = submitted_files(state, user, element, typed or [])
            out[block_id] = {action_id: {"type": "file_input", "files": files}}
            continue
        if element.get("type") == "static_select":
            out[block_id] = {action_id: _selected(element, typed)}
            continue
        value = None if typed in (None, "") else str(typed)
        out[block_id] = {action_id: {"type": element.get("type"), "value": value}}
    return out


def _selected(element: JSON, typed: Any) -> JSON:
    """A static select's state as Slack sends it: the chosen option whole (only one of
    the element's own options can be chosen), or None."""
    chosen = next(
        (o for o in element.get("options") or [] if str(o.get("value")) == str(typed)), None
    )
    return {"type": "static_select", "selected_option": chosen}


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
