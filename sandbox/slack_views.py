"""`views.*`: modals (open, push, update) and the App Home tab (publish).

The sandbox keeps, per user, the published Home view and the stack of open modals so
a web page playing the Slack client can render them (`GET /_sandbox/views/<user>`).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sandbox import slack_render as render
from sandbox.slack_blocks import VIEW_MAX_BLOCKS, validate_blocks
from sandbox.slack_common import SlackError, json_field, opt_str, require_str
from sandbox.slack_models import StoredView
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]
VIEW_TITLE_MAX = 24
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255
MODAL_STACK_MAX = 3


def checked_view(args: JSON, expected_type: str | None) -> JSON:
    """The `view` argument decoded and checked; Slack reports problems as `invalid_arguments`."""
    view = json_field(args, "view", "invalid_arguments")
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments", messages=["[ERROR] missing required field: view"])
    problems = validate_blocks(
        view.get("blocks", []), limit=VIEW_MAX_BLOCKS, pointer="/view/blocks"
    )
    problems += _view_problems(view, expected_type)
    if problems:
        raise SlackError("invalid_arguments", messages=[f"[ERROR] {p}" for p in problems])
    return view


def _view_problems(view: JSON, expected_type: str | None) -> list[str]:
    """Surface-level limits: type, title/submit/close length, metadata sizes."""
    kind = view.get("type")
    problems = []
    if expected_type is not None and kind != expected_type:
        problems.append(f"must be {expected_type} [json-pointer:/view/type]")
    if kind == "modal":
        for key in ("title", "submit", "close"):
            text = view.get(key, {}).get("text") if isinstance(view.get(key), dict) else None
            if key == "title" and text is None:
                problems.append("missing required field: title [json-pointer:/view/title]")
            if text is not None and len(text) > VIEW_TITLE_MAX:
                problems.append(f"must be less than 25 characters [json-pointer:/view/{key}/text]")
        has_input = any(
            b.get("type") == "input" for b in view.get("blocks", []) if isinstance(b, dict)
        )
        if has_input and "submit" not in view:
            problems.append(
                "submit is required when an input block is present [json-pointer:/view]"
            )
    if len(str(view.get("private_metadata", ""))) > PRIVATE_METADATA_MAX:
        problems.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if len(str(view.get("callback_id", ""))) > CALLBACK_ID_MAX:
        problems.append("must be less than 256 characters [json-pointer:/view/callback_id]")
    return problems


def _trigger_user(state: SandboxState, args: JSON) -> str:
    """Whose modal this is: from a minted trigger_id, or `unknown` when not strict."""
    trigger_id = require_str(args, "trigger_id")
    known = state.triggers.get(trigger_id)
    if known is None:
        if state.settings.strict_trigger_ids:
            raise SlackError("invalid_trigger_id")
        return "unknown"
    user_id, minted = known
    if (
        state.settings.strict_trigger_ids
        and time.time() - minted > state.settings.trigger_ttl_seconds
    ):
        raise SlackError("expired_trigger_id")
    return user_id


def _store(
    state: SandboxState, user_id: str, view: JSON, root: str | None, previous: str | None
) -> StoredView:
    view_id = state.new_id("V")
    stored = StoredView(
        id=view_id,
        user=user_id,
        type=str(view.get("type")),
        view=view,
        hash=f"{int(time.time())}.{secrets.token_hex(4)}",
        root_view_id=root or view_id,
        previous_view_id=previous,
        external_id=view.get("external_id"),
    )
    state.views[view_id] = stored
    return stored


def views_open(state: SandboxState, args: JSON) -> JSON:
    """views.open: a new modal stack for the user who triggered it."""
    user_id = _trigger_user(state, args)
    view = checked_view(args, "modal")
    stored = _store(state, user_id, view, None, None)
    state.modal_stacks[user_id] = [stored.id]
    state.bump("view_opened", user=user_id, view_id=stored.id)
    return {"ok": True, "view": render.view(state, stored)}


def views_push(state: SandboxState, args: JSON) -> JSON:
    """views.push: stack a modal on the open one (at most three deep)."""
    user_id = _trigger_user(state, args)
    stack = state.modal_stacks.get(user_id, [])
    if len(stack) >= MODAL_STACK_MAX:
        raise SlackError("push_limit_reached")
    view = checked_view(args, "modal")
    stored = _store(state, user_id, view, stack[0] if stack else None, stack[-1] if stack else None)
    state.modal_stacks[user_id] = [*stack, stored.id]
    state.bump("view_pushed", user=user_id, view_id=stored.id)
    return {"ok": True, "view": render.view(state, stored)}


def views_update(state: SandboxState, args: JSON) -> JSON:
    """views.update: replace a view by id or external_id; a stale `hash` is `hash_conflict`."""
    stored = _find_view(state, opt_str(args, "view_id"), opt_str(args, "external_id"))
    view = checked_view(args, stored.type)
    given_hash = opt_str(args, "hash")
    if given_hash is not None and given_hash != stored.hash:
        raise SlackError("hash_conflict")
    stored.view = view
    stored.hash = f"{int(time.time())}.{secrets.token_hex(4)}"
    stored.external_id = view.get("external_id", stored.external_id)
    state.bump("view_updated", user=stored.user, view_id=stored.id)
    return {"ok": True, "view": render.view(state, stored)}


def _find_view(state: SandboxState, view_id: str | None, external_id: str | None) -> StoredView:
    if view_id is None and external_id is None:
        raise SlackError(
            "invalid_arguments", messages=["[ERROR] view_id or external_id is required"]
        )
    for stored in state.views.values():
        if stored.id == view_id or (external_id is not None and stored.external_id == external_id):
            return stored
    raise SlackError("not_found")


def views_publish(state: SandboxState, args: JSON) -> JSON:
    """views.publish: the user's App Home tab; one view per user, replaced each time."""
    user_id = require_str(args, "user_id")
    if user_id not in state.users:
        raise SlackError("user_not_found")
    view = checked_view(args, "home")
    current = state.views.get(state.home_views.get(user_id, ""))
    given_hash = opt_str(args, "hash")
    if current is not None and given_hash is not None and given_hash != current.hash:
        raise SlackError("hash_conflict")
    if current is None:
        current = _store(state, user_id, view, None, None)
        state.home_views[user_id] = current.id
    else:
        current.view, current.hash = view, f"{int(time.time())}.{secrets.token_hex(4)}"
    state.bump("home_published", user=user_id, view_id=current.id)
    return {"ok": True, "view": render.view(state, current)}


def answer_with_view(
    state: SandboxState, user_id: str, view_id: str, view: object, *, push: bool
) -> None:
    """A submission answered with `response_action: update` (the submitted modal shows the
    new view, still open) or `push` (the new view goes on top of it)."""
    checked = checked_view({"view": view}, "modal")
    stack = state.modal_stacks.get(user_id, [])
    if push:
        if len(stack) >= MODAL_STACK_MAX:
            raise SlackError("push_limit_reached")
        stored = _store(state, user_id, checked, stack[0] if stack else None, view_id)
        state.modal_stacks[user_id] = [*stack, stored.id]
        state.bump("view_pushed", user=user_id, view_id=stored.id)
        return
    current = state.views[view_id]
    current.view, current.hash = checked, f"{int(time.time())}.{secrets.token_hex(4)}"
    state.bump("view_updated", user=user_id, view_id=view_id)


def user_views(state: SandboxState, user_id: str) -> JSON:
    """Home view and open modals (bottom first) of one user, for the web UI."""
    home = state.views.get(state.home_views.get(user_id, ""))
    modals = [state.views[v] for v in state.modal_stacks.get(user_id, []) if v in state.views]
    return {
        "ok": True,
        "user": user_id,
        "home": render.view(state, home) if home else None,
        "modals": [render.view(state, m) for m in modals],
    }


def close_modal(state: SandboxState, user_id: str, close_all: bool) -> None:
    """What the Slack client does on submit/cancel: pop the top modal (or all of them)."""
    stack = state.modal_stacks.get(user_id, [])
    state.modal_stacks[user_id] = [] if close_all else stack[:-1]
    state.bump("view_closed", user=user_id)


METHODS = {
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
}
