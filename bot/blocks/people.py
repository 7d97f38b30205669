"""Who did something, as people read it, wherever an actor is shown."""

from __future__ import annotations

import re

from bot.blocks.text import fit
from models.job import Job

# Slack user IDs (U…, W… on Enterprise Grid); the stand-ins use U_NAME.
_SLACK_USER = re.compile(r"[UW][A-Z0-9_]{1,40}")
_SYSTEM = {"errand": "Errand", "provider": "the AI provider"}
# Operators acting outside Slack, as `cli:NAME` or `console:NAME` (the web console).
_OPERATORS = {"cli": "an operator (CLI)", "console": "an operator (console)"}
ACTOR_MAX = 80


def is_slack_user(who: str | None) -> bool:
    """A Slack user ID, as opposed to an operator, Errand or the provider."""
    return bool(who) and _SLACK_USER.fullmatch(str(who)) is not None


def actor(who: str | None) -> str:
    """A Slack user as a mention, `cli[:NAME]` and `console[:NAME]` as an operator, Errand
    and the provider by name; anything else as plain escaped text, so an odd ID never
    pings anyone."""
    if not who:
        return "someone"
    if _SLACK_USER.fullmatch(who):
        return f"<@{who}>"
    operator = _OPERATORS.get(who.partition(":")[0])
    return operator or _SYSTEM.get(who) or fit(who, ACTOR_MAX)


def attempt_label(job: Job) -> str:
    """`attempt 2 of 3` while automatic retries remain in the kind's cap; past it (a
    person retried) just `attempt 4`, since people may always try again."""
    if job.attempts <= job.max_attempts:
        return f"attempt {job.attempts} of {job.max_attempts}"
    return f"attempt {job.attempts}"
