"""`/errand settings`: a channel's default options per kind, in a modal, for the people
who look after the channel (bot.roles.Roles.may_manage_channel). The submission is checked
again (who, and every value against its kind), since a modal's form is no authority."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.settings_modal import block_id, offered, read_settings, saved_line, settings_modal
from bot.context import BotContext
from bot.roles import Roles
from bot.slack import call
from models.kinds import Kind
from models.notifier import NotifyLater
from models.options import refusal
from models.store.preferences import Defaults, all_channel_defaults, set_channel_defaults

log = logging.getLogger(__name__)

Body = dict[str, Any]
HELP = (
    "`/errand settings` sets this channel's default model, reasoning effort and service "
    "tier for each kind of job. A request can still choose its own: "
    "`/research --model gpt-5-mini --effort high --tier flex <question>`, or "
    "`@Errand [model: gpt-5-mini] <question>`."
)
NOT_YOURS = (
    "Only the channel's creator, a workspace admin or on-call can change this channel's defaults."
)


class ChannelSettings:
    """The command, its modal and the submission."""

    def __init__(self, ctx: BotContext, roles: Roles) -> None:
        self.ctx = ctx
        self.roles = roles
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="channel-settings")

    def kinds(self) -> list[Kind]:
        return [k for k in self.ctx.kinds.kinds.values() if offered(k)]

    def command(self, ack: Ack, command: Body) -> None:
        """`settings` opens the modal (after the ack: who may is asked of Slack); anything
        else is told what the command does."""
        if (command.get("text") or "").strip().lower() != "settings":
            ack(response_type="ephemeral", text=HELP)
            return
        ack()

    def open_modal(self, command: Body, client: WebClient, respond: Respond) -> None:
        if (command.get("text") or "").strip().lower() != "settings":
            return
        user, channel = command["user_id"], command["channel_id"]
        if not self.roles.may_manage_channel(user, channel):
            respond(response_type="ephemeral", text=NOT_YOURS)
            return
        current = all_channel_defaults(self.ctx.db, channel)
        view = settings_modal(channel, self.kinds(), current)
        call(client.views_open, trigger_id=command["trigger_id"], view=view)

    def submitted(self, ack: Ack, body: Body, view: Body, client: WebClient) -> None:
        """Stored and closed, and the channel told; refused under the first select (whoever
        may not), or under each value its kind does not allow; nothing is stored then."""
        user = body["user"]["id"]
        channel, chosen = read_settings(view)
        kinds = {k.name: k for k in self.kinds()}
        chosen = {kind: values for kind, values in chosen.items() if kind in kinds}
        first = next((block_id(k, n) for k, v in chosen.items() for n in v), None)
        if not channel or first is None:  # no select of ours in it: nothing to store
            ack()
            return
        if not self.roles.may_manage_channel(user, channel):
            ack(response_action="errors", errors={first: NOT_YOURS})
            return
        errors = _refusals(kinds, chosen)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        set_channel_defaults(self.ctx.db, channel, chosen, by=user)
        log.info("channel defaults set", extra={"channel": channel, "user": user})
        ack()
        self.pool.submit(self._tell, client, channel, saved_line(user, kinds, chosen))

    @staticmethod
    def _tell(client: WebClient, channel: str, text: str) -> None:
        """The channel's line about its new defaults; one Slack refuses is only logged."""
        try:
            call(client.chat_postMessage, channel=channel, text=text)
        except (SlackApiError, NotifyLater) as exc:
            log.warning(
                "channel defaults not announced", extra={"channel": channel, "error": str(exc)}
            )


def _refusals(kinds: dict[str, Kind], chosen: dict[str, Defaults]) -> dict[str, str]:
    """A sentence under each value its kind does not allow (the kinds file may have
    changed since the modal opened)."""
    return {
        block_id(kind, name): refusal(kinds[kind], name, value)
        for kind, values in chosen.items()
        for name, value in values.items()
        if value is not None and value not in kinds[kind].allowed(name)
    }
