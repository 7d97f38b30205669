"""Read-mostly methods: `auth.test`, users, user groups, and conversation lookups.

These let the app resolve who approves (`usergroups.users.list`), open DMs for
notifications and check channel membership the way it would against real Slack.
"""

from __future__ import annotations

from typing import Any

from sandbox import slack_render as render
from sandbox.slack_chat import conversation_for
from sandbox.slack_common import SlackError, as_bool, opt_str, require_str, split_ids
from sandbox.slack_models import Conversation
from sandbox.slack_state import SandboxState

JSON = dict[str, Any]


def auth_test(state: SandboxState, args: JSON) -> JSON:
    """auth.test: Bolt calls this on every request to learn bot_id and bot_user_id."""
    s = state.settings
    return {
        "ok": True,
        "url": f"https://{s.team_domain}.slack.com/",
        "team": s.team_name,
        "user": s.bot_name,
        "team_id": s.team_id,
        "user_id": s.bot_user_id,
        "bot_id": s.bot_id,
        "is_enterprise_install": False,
    }


def users_info(state: SandboxState, args: JSON) -> JSON:
    """users.info: `user_not_found` for ids outside the workspace."""
    member = state.users.get(require_str(args, "user"))
    if member is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": render.user(state, member)}


def usergroup_users(state: SandboxState, args: JSON) -> JSON:
    """usergroups.users.list: member ids of a group, `no_such_subteam` if unknown."""
    group = state.usergroups.get(require_str(args, "usergroup"))
    if group is None:
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(group.users)}


def conversations_open(state: SandboxState, args: JSON) -> JSON:
    """conversations.open: the app's DM with `users` (or group DM), reused when it exists."""
    channel = opt_str(args, "channel")
    if channel is not None:
        conv = conversation_for(state, args)
        return _opened(state, conv, True, as_bool(args.get("return_im")))
    users = split_ids(args.get("users"))
    if not users:
        raise SlackError("users_list_not_supplied")
    for user_id in users:
        if user_id not in state.users:
            raise SlackError("user_not_found")
    if len(users) > 8:
        raise SlackError("too_many_users")
    conv, existed = state.open_dm(users)
    return _opened(state, conv, existed, as_bool(args.get("return_im")))


def _opened(state: SandboxState, conv: Conversation, existed: bool, full: bool) -> JSON:
    body: JSON = {
        "ok": True,
        "channel": render.conversation(state, conv) if full else {"id": conv.id},
    }
    if existed:
        body.update(no_op=True, already_open=True)
    return body


def conversations_info(state: SandboxState, args: JSON) -> JSON:
    """conversations.info: private channels the bot is not in look missing, as in Slack."""
    conv = conversation_for(state, args)
    if conv.is_private and state.settings.bot_user_id not in conv.members:
        raise SlackError("channel_not_found")
    return {"ok": True, "channel": render.conversation(state, conv)}


METHODS = {
    "auth.test": auth_test,
    "users.info": users_info,
    "usergroups.users.list": usergroup_users,
    "conversations.open": conversations_open,
    "conversations.info": conversations_info,
}
