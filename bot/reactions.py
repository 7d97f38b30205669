"""The emoji on a message that asked for a job (a mention): eyes once the job is stored,
then how its turn ended. Delivered as the job's news (the notice outbox), so a rate
limit or an outage delays an emoji but never loses it.

A retried delivery repeats what it already did, harmlessly: Slack answers
`already_reacted` and `no_reaction`, which mean the emoji is already as wanted. A message
that is gone, or a channel Errand has lost, leaves nothing to react on.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.budget import Budget
from bot.ids import CANNOT_POST, SlackErrorCode
from bot.slack import call, error_code
from models.notifier import Milestone, Undeliverable

log = logging.getLogger(__name__)

# Answers that leave nothing to do: the emoji is as wanted, or there is no message to mark.
SETTLED = frozenset(
    {
        SlackErrorCode.ALREADY_REACTED,
        SlackErrorCode.NO_REACTION,
        SlackErrorCode.MESSAGE_NOT_FOUND,
        *CANNOT_POST,
    }
)


def react(client: WebClient, budget: Budget, milestone: Milestone) -> None:
    """Add the notice's emoji to its message, then take the others off."""
    job, detail = milestone.job, milestone.detail
    channel, ts = job.channel_id, detail.get("ts")
    if not channel or not ts or budget.is_lost(channel):
        return
    if detail.get("add"):
        _one(client.reactions_add, budget, job.id, channel, ts, detail["add"])
    for name in detail.get("remove") or []:
        _one(client.reactions_remove, budget, job.id, channel, ts, name)


def _one(method: Any, budget: Budget, job_id: str, channel: str, ts: str, name: str) -> None:
    try:
        call(method, budget=budget, channel=channel, timestamp=ts, name=name)
    except SlackApiError as exc:
        code = error_code(exc)
        if code not in SETTLED:
            raise Undeliverable(f"the reaction could not be changed: {code}") from exc
        log.info("reaction left as it is", extra={"job_id": job_id, "error": code})
