"""manifest.yml is valid for Slack and declares exactly what the code uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from bot.ids import SCOPES, SUBSCRIBED, ActionId, CallbackId, Command

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
URL = "https://errand.example.com/slack/events"


def _manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text())
    return loaded


def _schema(manifest: dict[str, Any]) -> dict[str, Any]:
    """The versioned schema `_metadata.major_version` selects (absent: 1)."""
    major = (manifest.get("_metadata") or {}).get("major_version", 1)
    path = REFERENCE / f"slack-app-manifest.schema.{major}.0.0.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def test_manifest_validates_against_slack_schema() -> None:
    manifest = _manifest()
    jsonschema.validate(manifest, _schema(manifest))


def test_slash_commands_match_the_code() -> None:
    commands = _manifest()["features"]["slash_commands"]
    assert {c["command"] for c in commands} == {c.value for c in Command}
    assert all(c["url"] == URL and c.get("usage_hint") for c in commands)


def test_scopes_match_the_code() -> None:
    assert set(_manifest()["oauth_config"]["scopes"]["bot"]) == set(SCOPES)


def test_events_and_interactivity_match_the_code() -> None:
    settings = _manifest()["settings"]
    subscribed = set(settings["event_subscriptions"]["bot_events"])
    assert subscribed == {event.value for event in SUBSCRIBED}
    assert settings["event_subscriptions"]["request_url"] == URL
    # Buttons and modals need interactivity; Slack manifests do not list action or callback
    # IDs, so the check is that interactivity is on whenever the code has any.
    assert list(ActionId) and list(CallbackId)
    assert settings["interactivity"] == {"is_enabled": True, "request_url": URL}
    assert settings["socket_mode_enabled"] is False
    assert _manifest()["features"]["app_home"]["home_tab_enabled"] is True


def test_the_app_is_declared_an_agent_that_hears_stop() -> None:
    """Agent sessions (status and Stop) need the agent declaration and the Stop event."""
    manifest = _manifest()
    assert manifest["features"]["agent_view"]["agent_description"]
    assert "agent_session_stopped" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_shortcut_callback_ids_are_ours() -> None:
    """Every shortcut declared is a callback the code handles: "Research this"."""
    shortcuts = _manifest()["features"].get("shortcuts") or []
    assert {s["callback_id"] for s in shortcuts} == {CallbackId.RESEARCH_THIS.value}
    assert all(s["type"] == "message" for s in shortcuts)


def test_action_ids_are_valid_for_block_kit() -> None:
    assert {a.value for a in ActionId} >= {"job_cancel", "job_retry", "job_approve", "job_reject"}
    assert "job_feedback" in {a.value for a in ActionId}
    assert all(len(a.value) <= 255 for a in [*ActionId, *CallbackId])
