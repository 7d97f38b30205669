"""The Slack stand-in and a real bot process, driven the way Slack drives them."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox import slack_signing as signing
from tests.support.client import HTTP
from tests.support.procs import wait_for

TOKEN = "xoxb-sandbox"
SECRET = "errand-test-signing-secret"


@dataclass
class SlackSandbox:
    """The Slack Web API stand-in (its own process), read and steered over `/_sandbox`."""

    url: str

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        target = f"{self.url}/_sandbox{path}"
        response = (
            HTTP.post(target, json=body, timeout=10)
            if body is not None
            else HTTP.get(target, timeout=10)
        )
        assert response.status_code < 500, response.text
        return response.json()

    def reset(self) -> None:
        self.control("/reset", {})

    def fault(self, **spec: Any) -> None:
        self.control("/faults", spec)

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        suffix = f"?method={method}" if method else ""
        found: list[dict[str, Any]] = self.control(f"/calls{suffix}")["calls"]
        return found

    def conversation(self, channel: str) -> dict[str, Any]:
        state: dict[str, Any] = self.control(f"/channels/{channel}/messages")
        return state

    def messages(self, channel: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.conversation(channel)["messages"]
        return found

    def ephemeral(self, channel: str, user: str) -> list[str]:
        items = self.conversation(channel)["ephemeral"].get(user, [])
        return [str(item.get("text") or "") for item in items]

    def cards(self, channel: str) -> list[dict[str, Any]]:
        """Errand status cards (messages carrying our job metadata)."""
        return [
            m
            for m in self.messages(channel)
            if (m.get("metadata") or {}).get("event_type") == "errand_job"
        ]

    def card(self, channel: str, timeout: float = 20) -> dict[str, Any]:
        """The one card in `channel`, waiting for it to appear."""
        wait_for(lambda: self.cards(channel), timeout, f"no status card in {channel}")
        [card] = self.cards(channel)
        return card

    def response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        body = {"channel_id": channel, "user_id": user, "message_ts": message_ts}
        return str(self.control("/response_urls", body)["response_url"])

    def trigger(self, user: str) -> str:
        return str(self.control("/triggers", {"user_id": user})["trigger_id"])

    def views(self, user: str) -> dict[str, Any]:
        found: dict[str, Any] = self.control(f"/views/{user}")
        return found

    # -- switches, limits and what was sent (see sandbox/slack_config.py) ----------------

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Flip runtime switches until the next reset: `configure(rate_limits="off")`."""
        found: dict[str, Any] = self.control("/settings", settings)["settings"]
        return found

    def reset_with(self, **settings: Any) -> None:
        """Reset, then apply `settings` (one call, e.g. a fixture turning limits off)."""
        self.control("/reset", {"settings": settings})

    def stats(self) -> dict[str, Any]:
        """Calls and HTTP 429 answers per method since the last reset."""
        found: dict[str, Any] = self.control("/stats")
        return found

    def act(self, action: str, **body: Any) -> dict[str, Any]:
        """A person's action sent to the app as Slack sends it (`/_sandbox/client/<action>`):
        message, shortcut, press, submit, stop, upload, command, home, close."""
        response = HTTP.post(f"{self.url}/_sandbox/client/{action}", json=body, timeout=20)
        assert response.status_code in (200, 409), response.text
        found: dict[str, Any] = response.json()
        return found

    def deliveries(self, since: int = 0) -> list[dict[str, Any]]:
        """What the stand-in sent to the app: kind, type, status, time taken, payload."""
        found: list[dict[str, Any]] = self.control(f"/deliveries?since={since}")["deliveries"]
        return found

    def redeliver(self, seq: int, reason: str = "http_timeout") -> dict[str, Any]:
        """Slack's retry of event delivery `seq` (`X-Slack-Retry-Num`, same `event_id`)."""
        found: dict[str, Any] = self.control(f"/deliveries/{seq}/retry", {"reason": reason})
        return found

    def streams(self, **filters: str) -> list[dict[str, Any]]:
        """Streamed messages with every start/append/stop call (filters: channel, thread_ts, ts)."""
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        found: list[dict[str, Any]] = self.control(f"/streams?{query}")["streams"]
        return found

    def agent_sessions(self, **filters: str) -> list[dict[str, Any]]:
        """Each thread's agent session and its status history (filters: channel, thread_ts)."""
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        found: list[dict[str, Any]] = self.control(f"/agent_sessions?{query}")["sessions"]
        return found

    def add_channel(self, channel: str) -> None:
        """A new public channel the bot is in."""
        body = {"id": channel, "name": channel.lower().replace("_", "-")}
        assert self.control("/channels", body)["ok"]

    def archive(self, channel: str, archived: bool = True) -> None:
        """Archive a channel: posts and updates there get `is_archived` from now on."""
        self.control(f"/channels/{channel}/archive", {"archived": archived})

    def remove_bot(self, channel: str) -> None:
        """Take the bot out of a channel: writes there get `not_in_channel`."""
        self.control(f"/channels/{channel}/members", {"action": "remove"})

    def delete_channel(self, channel: str) -> None:
        """Delete a channel: every call naming it gets `channel_not_found`."""
        assert HTTP.delete(f"{self.url}/_sandbox/channels/{channel}", timeout=10).status_code == 200


def job_id_of(card: dict[str, Any]) -> str:
    return str(card["metadata"]["event_payload"]["job_id"])


def card_text(card: dict[str, Any]) -> str:
    """Everything the card shows, as one string."""
    return json.dumps(card.get("blocks") or []) + str(card.get("text") or "")


def thread_texts(card: dict[str, Any]) -> list[str]:
    """Each thread reply's text plus its blocks' text."""
    return [
        str(reply.get("text") or "") + json.dumps(reply.get("blocks") or [])
        for reply in card.get("replies") or []
    ]


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


@dataclass
class BotProcess:
    """`errand bot` under test, receiving requests signed as Slack signs them."""

    url: str
    slack: SlackSandbox
    process: subprocess.Popen[bytes]

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return HTTP.post(f"{self.url}/slack/events", content=body, headers=headers, timeout=10)

    def signed(self, body: bytes, *, as_json: bool = False) -> httpx.Response:
        make = signing.json_headers if as_json else signing.form_headers
        return self.post(body, make(body, SECRET))

    def command(
        self, command: str, text: str, user: str = "U_REQUESTER", channel: str = "C_GENERAL"
    ) -> httpx.Response:
        """A slash command, with a real response_url and trigger_id from the stand-in."""
        body = signing.slash_command_body(
            command,
            text,
            user,
            channel,
            self.slack.response_url(channel, user),
            self.slack.trigger(user),
        )
        return self.signed(body)

    def click(
        self, action_id: str, job_id: str, user: str, channel: str, message: dict[str, Any]
    ) -> httpx.Response:
        """Press a button on `message` (a message from the stand-in's state)."""
        body = signing.block_actions_body(
            action_id,
            job_id,
            user,
            channel,
            message["ts"],
            self.slack.trigger(user),
            self.slack.response_url(channel, user, message["ts"]),
            message=message,
        )
        return self.signed(body)

    def submit_view(
        self, view: dict[str, Any], user: str, values: dict[str, Any]
    ) -> httpx.Response:
        body = signing.view_submission_body(
            view["callback_id"], view.get("private_metadata", ""), values, user
        )
        return self.signed(body)

    def healthz(self) -> httpx.Response:
        return HTTP.get(f"{self.url}/healthz", timeout=5)
