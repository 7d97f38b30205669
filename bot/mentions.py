"""Jobs asked in conversation: `@Errand <request>` in a channel or a thread, the message
shortcut "Research this", and follow-ups that mention Errand in a job's thread.

Each is acked at once (Slack wants an answer within three seconds) and handled after:
reading the thread can wait a minute for Slack's budget. A mention in a job's thread
continues that job as its next turn; anywhere else it starts a research job (a draft
with `draft:`) whose input carries the thread's earlier messages, quoted. The job is
keyed by the asking message, so the Events API's retries of one mention make one job
(and a retry arriving while the first delivery still reads the thread waits for
nothing: a short claim in Redis tells it the mention is taken). Refusals are told to
the asker alone, in the thread.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.budget import Budget
from bot.context import BotContext
from bot.failures import explain
from bot.metrics import JOBS_STARTED
from bot.slack import call
from bot.thread_context import Said, quoted, read_thread
from models.errors import InputRejected
from models.job import Job
from models.kinds import Kind
from models.options import check, split_options
from models.store import queries
from models.store.submission import submit, validate_input
from models.store.turns import continue_job

log = logging.getLogger(__name__)

Body = dict[str, Any]
DRAFT = re.compile(r"^\s*draft\s*:\s*", re.IGNORECASE)
READERS = 4  # mentions being read at once; more wait their turn
CLAIM_SECONDS = 180  # a mention being read and stored; past it, a retry may take it over
THIS_MESSAGE = "Research what the quoted message says or asks, and answer it."


@dataclass(frozen=True)
class Asked:
    """A message that mentions Errand: where, by whom, and the request without the mention."""

    channel: str
    ts: str
    root: str  # the thread's root (the message itself when it starts no thread)
    user: str
    team: str | None
    text: str
    bot_user: str

    @property
    def in_thread(self) -> bool:
        return self.root != self.ts

    @property
    def key(self) -> str:
        return f"slack:mention:{self.channel}:{self.ts}"


def asked(body: Body, event: Body, context: BoltContext) -> Asked:
    """The mention as Errand reads it; Errand's own user ID comes with the event."""
    bot_user = next(
        (a.get("user_id") for a in body.get("authorizations") or [] if a.get("is_bot")),
        context.get("bot_user_id") or "",
    )
    mention = re.compile(rf"<@{re.escape(bot_user)}(\|[^>]*)?>" if bot_user else r"^\s*<@[UW]\w+>")
    return Asked(
        channel=str(event["channel"]),
        ts=str(event["ts"]),
        root=str(event.get("thread_ts") or event["ts"]),
        user=str(event["user"]),
        team=body.get("team_id") or event.get("team"),
        text=mention.sub("", str(event.get("text") or "")).strip(),
        bot_user=str(bot_user),
    )


class Mentions:
    """The mention and shortcut listeners, sharing the bot's context and Slack budget."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx
        self.budget = Budget(ctx.redis)
        # A thread read may wait a minute for Slack's budget: on threads of its own, so
        # Bolt's few listener threads stay free for buttons and commands meanwhile.
        self.readers = ThreadPoolExecutor(READERS, thread_name_prefix="mention-reader")

    def mentioned(self, body: Body, event: Body, client: WebClient, context: BoltContext) -> None:
        """After the ack: a follow-up in a job's thread, else a new job."""
        if event.get("bot_id") or not event.get("user"):
            return  # an app's message: apps do not start jobs
        ask = asked(body, event, context)
        try:
            kind, text, requested = self._kind(ask.text)
            job = queries.in_thread(self.ctx.db, ask.channel, ask.root) if ask.in_thread else None
            if job is not None and kind.command != "/draft":
                self._follow_up(job, text, ask, requested)
            else:
                self._check(kind, text, requested)
                self.readers.submit(self._start, kind, text, ask, client, requested)
        except Exception as error:  # the asker is told why, in the thread
            self._tell(client, ask.channel, ask.user, ask.root, explain(error))

    def _kind(self, text: str) -> tuple[Kind, str, dict[str, str]]:
        """`draft: …` asks for a draft; anything else is research. Options
        (`[model: …, effort: …, tier: …]`) may come before or after `draft:`."""
        requested, text = split_options(text)
        command = "/draft" if DRAFT.match(text) else "/research"
        kind = self.ctx.kinds.by_command(command)
        if kind is None:
            raise InputRejected(f"{command} is not set up in this Errand.")
        more, text = split_options(DRAFT.sub("", text))
        return kind, text, {**requested, **more}

    def _follow_up(self, job: Job, text: str, ask: Asked, requested: dict[str, str]) -> None:
        if requested:
            raise InputRejected(
                "A follow-up continues with its job's model, effort and tier; to choose "
                "others, mention Errand outside this job's thread."
            )
        continue_job(
            self.ctx.db, self.ctx.kinds, job.id, text, actor=ask.user, asked_ts=ask.ts, key=ask.key
        )

    def _check(self, kind: Kind, text: str, requested: dict[str, str]) -> None:
        """Refuse a request that would make no job, before the thread is read."""
        if not text:
            raise InputRejected(
                f"Tell me what to work on: `@Errand <what you need>` ({kind.title})."
            )
        validate_input(kind, text)
        check(kind, requested)

    def _start(
        self, kind: Kind, text: str, ask: Asked, client: WebClient, requested: dict[str, str]
    ) -> None:
        """Read the thread (once per mention) and store the job with it, quoted."""
        try:
            if queries.by_key(self.ctx.db, ask.key) is not None or not self._claim(ask.key):
                return  # a repeated delivery of a mention already taken
            context = ""
            if ask.in_thread:
                said = read_thread(
                    client, self.budget, ask.channel, ask.root, ask.ts, bot_user=ask.bot_user
                )
                context = quoted(said)
            self._submit(
                kind, text, ask.user, ask, context=context, key=ask.key, requested=requested
            )
        except Exception as error:
            self._tell(client, ask.channel, ask.user, ask.root, explain(error))

    def _submit(
        self,
        kind: Kind,
        text: str,
        user: str,
        ask: Asked,
        *,
        context: str,
        key: str,
        requested: dict[str, str] | None = None,
    ) -> None:
        job = submit(
            self.ctx.db,
            self.ctx.kinds,
            kind.name,
            text,
            user=user,
            channel=ask.channel,
            team=ask.team,
            thread_ts=ask.root,
            asked_ts=ask.ts,
            context=context,
            idempotency_key=key,
            requested=requested,
        )
        JOBS_STARTED.labels(kind.name).inc()
        log.info("job asked in conversation", extra={"job_id": job.id, "kind": kind.name})

    def _claim(self, key: str) -> bool:
        """True for the first delivery of a mention (a lost Redis lets every one through:
        the job's key still keeps it single)."""
        try:
            return bool(self.ctx.redis.set(f"errand:{key}", "1", nx=True, ex=CLAIM_SECONDS))
        except RedisError:
            return True

    # -- the message shortcut -----------------------------------------------------------

    def research_this(self, shortcut: Body, client: WebClient) -> None:
        """ "Research this" on a message: a research job about that message, its card in
        the message's thread, its reactions on the message."""
        message, user = shortcut.get("message") or {}, str(shortcut["user"]["id"])
        channel, ts = str(shortcut["channel"]["id"]), str(message.get("ts") or "")
        root = str(message.get("thread_ts") or ts)
        try:
            kind, _, _ = self._kind("")
            author = str(message.get("user") or message.get("bot_id") or "someone")
            context = quoted([Said(author, ts, str(message.get("text") or ""))])
            team = (shortcut.get("team") or {}).get("id")
            ask = Asked(channel, ts, root, user, team, THIS_MESSAGE, bot_user="")
            key = f"slack:{shortcut['trigger_id']}"[:128]
            self._submit(kind, THIS_MESSAGE, user, ask, context=context, key=key)
        except Exception as error:
            self._tell(client, channel, user, root, explain(error))

    def _tell(self, client: WebClient, channel: str, user: str, root: str, text: str) -> None:
        """A sentence only the asker sees, in the thread they asked in."""
        try:
            call(client.chat_postEphemeral, channel=channel, user=user, thread_ts=root, text=text)
        except Exception:  # they may be out of reach; the log says what they missed
            log.warning("could not tell the asker", extra={"channel": channel}, exc_info=True)
