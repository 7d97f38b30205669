"""Thin Bolt listeners: validate, ack, call the job service, render. The table of contents
is `register_listeners`."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.agent_session import AgentStop
from bot.batch import Batches
from bot.blocks.card import card
from bot.blocks.home import home_view
from bot.blocks.lists import MAX_ROWS, job_list
from bot.budget import Budget
from bot.context import BotContext
from bot.failures import answering, explain
from bot.feedback import Feedback
from bot.ids import JOB_BUTTONS, ActionId, CallbackId, Command, EventType, PreferenceId
from bot.mentions import Mentions
from bot.metrics import JOBS_STARTED
from bot.permalinks import Permalinks
from bot.presses import Presses
from bot.roles import Roles
from bot.settings import ChannelSettings
from bot.slack import call
from models.base import utcnow
from models.errors import ErrandError, JobNotFound
from models.job import Job
from models.kinds import Kind
from models.notifier import NotifyLater
from models.options import Options, check, split_options
from models.store import queries
from models.store.preferences import notify_by_dm, set_notify_by_dm
from models.store.submission import submit, validate_input

log = logging.getLogger(__name__)

STUCK = "Stuck jobs and undeliverable news"
ONCALL_BLOCKS = 45  # App Home allows 100 blocks; the person's own list takes the rest

Body = dict[str, Any]


def register_listeners(app: App, ctx: BotContext, roles: Roles) -> None:
    """Every command, button, modal, shortcut and event Errand answers.

    The ack is answered on the request's thread with nothing slow before it; the
    work (Slack calls, most database work) runs lazily after it. A job command
    stores its job before answering, and the reject modal waits for the decision,
    because each answer depends on what was stored; so does the /batch modal, for up to
    two seconds of reading its file (bot/batch.py).
    """
    on, presses, batches = Listeners(ctx, roles), Presses(ctx, roles), Batches(ctx)
    for command in (Command.RESEARCH, Command.DRAFT, Command.DEEP, Command.ASK):
        app.command(command.value)(on.start_job)
    app.command(Command.JOBS.value)(ack=_ack, lazy=[answering(on.list_jobs)])
    app.command(Command.BATCH.value)(ack=batches.command, lazy=[answering(batches.open_modal)])
    app.view(CallbackId.BATCH.value)(batches.submitted)
    for action in JOB_BUTTONS:
        app.action(action.value)(ack=_ack, lazy=[answering(presses.press)])
    app.view(CallbackId.REJECT_REASON.value)(presses.reject_submitted)
    settings = ChannelSettings(ctx, roles)
    app.command(Command.ERRAND.value)(ack=settings.command, lazy=[answering(settings.open_modal)])
    app.view(CallbackId.CHANNEL_SETTINGS.value)(settings.submitted)
    feedback = Feedback(ctx)
    app.action(ActionId.JOB_FEEDBACK.value)(ack=_ack, lazy=[feedback.pressed])
    app.view(CallbackId.FEEDBACK_COMMENT.value)(feedback.commented)
    app.event(EventType.APP_HOME_OPENED.value)(ack=_ack, lazy=[on.home_opened])
    app.action(PreferenceId.NOTIFY_BY_DM.value)(ack=_ack, lazy=[on.notify_by_dm_pressed])
    mentions = Mentions(ctx)  # the thread is read after the ack: Slack may make it wait
    app.event(EventType.APP_MENTION.value)(ack=_ack, lazy=[mentions.mentioned])
    app.shortcut(CallbackId.RESEARCH_THIS.value)(ack=_ack, lazy=[mentions.research_this])
    stop = AgentStop(ctx.db, presses)  # Slack's Stop: the Cancel button's rules
    app.event(EventType.AGENT_SESSION_STOPPED.value)(ack=_ack, lazy=[stop.stopped])


def _ack(ack: Ack) -> None:
    ack()


def idempotency_key(command: Body) -> str:
    """Slack's trigger_id, so a retried delivery of the same command finds the first job."""
    if command.get("trigger_id"):
        return f"slack:{command['trigger_id']}"[:128]
    minute = int(utcnow().timestamp() // 60)
    parts = [command.get(k, "") for k in ("team_id", "user_id", "command", "text")]
    return "slack:" + hashlib.sha256(f"{parts}{minute}".encode()).hexdigest()


def _with(job: Job) -> str:
    """` (model gpt-5-mini: request, tier flex: channel default)`: what the job runs with
    and why, echoed to the person who asked."""
    options = Options.from_json(job.options)
    named = options.describe() if options else []
    return f" ({', '.join(named)})" if named else ""


class Listeners:
    """The listeners, sharing the bot's context and the role resolver."""

    def __init__(self, ctx: BotContext, roles: Roles) -> None:
        self.ctx = ctx
        self.roles = roles
        self.budget = Budget(ctx.redis)

    def _links(self, client: WebClient, jobs: list[Job]) -> dict[str, str]:
        """Each listed job's thread link (one Slack call per job, ever; see bot.permalinks)."""
        return Permalinks(client, self.budget).of_all(jobs[:MAX_ROWS])

    # -- slash commands ---------------------------------------------------------------

    def start_job(self, ack: Ack, command: Body) -> None:
        """/research, /draft: the ack refuses bad input (no job is made), or names the job
        once it is stored.

        Storing inside the ack (one statement on PostgreSQL, under a millisecond) means
        "started" is never a promise the bot could still break, and a command costs no
        copy of the request for a lazy listener and no hand-off to its thread.
        """
        request = self._job_request(command)
        if isinstance(request, str):
            ack(response_type="ephemeral", text=request)
            return
        kind, text, requested = request
        try:
            job = submit(
                self.ctx.db,
                self.ctx.kinds,
                kind.name,
                text,
                user=command["user_id"],
                channel=command.get("channel_id"),
                team=command.get("team_id"),
                response_url=command.get("response_url"),
                idempotency_key=idempotency_key(command),
                requested=requested,
            )
        except Exception as error:  # the person is told why, in the answer itself
            ack(response_type="ephemeral", text=explain(error))
            return
        JOBS_STARTED.labels(kind.name).inc()
        ack(
            response_type="ephemeral",
            text=f"Started your {kind.title.lower()} job `{job.id}`{_with(job)}; "
            "its status card follows.",
        )

    def _job_request(self, command: Body) -> tuple[Kind, str, dict[str, str]] | str:
        """(kind, input, requested options) of a job command, or the sentence that
        refuses it; options (`--model …`) come before the question."""
        kind = self.ctx.kinds.by_command(command["command"])
        if kind is None:
            return f"{command['command']} is not set up in this Errand."
        try:
            requested, text = split_options(command.get("text", ""))
            return kind, validate_input(kind, text), check(kind, requested)
        except ErrandError as refused:
            return str(refused)

    def list_jobs(self, command: Body, respond: Respond, client: WebClient) -> None:
        """/jobs [mine|all|stuck|ID], always ephemeral."""
        user = command["user_id"]
        word = (command.get("text") or "").strip()
        now = utcnow()
        if word.lower() in ("", "mine"):
            mine = queries.recent(self.ctx.db, user=user, archived=False)
            text, blocks = job_list("Your recent jobs", mine, now, links=self._links(client, mine))
        elif word.lower() in ("all", "stuck"):
            if not self.roles.is_oncall(user):
                respond(response_type="ephemeral", text=f"`/jobs {word}` is for on-call only.")
                return
            if word.lower() == "all":
                everyone = queries.recent(self.ctx.db, archived=False)
                links = self._links(client, everyone)
                text, blocks = job_list("All jobs", everyone, now, links=links)
            else:
                stuck = self._needing_oncall()
                text, blocks = job_list(STUCK, stuck, now, links=self._links(client, stuck))
        else:
            text, blocks = self._one_job(word, user, client)
        respond(response_type="ephemeral", text=text, blocks=blocks)

    def _one_job(self, job_id: str, user: str, client: WebClient) -> tuple[str, list[Any]]:
        try:
            job = queries.get_job(self.ctx.db, job_id)
        except JobNotFound:
            return f"There is no job `{job_id[:20]}`. Try `/jobs mine`.", []
        if not self._may_see(job, user, client):
            return (
                f"You can't see job `{job.id}`: it was asked in a conversation you're not in.",
                [],
            )
        link = Permalinks(client, self.budget).of(job)
        return card(job, self._title(job), utcnow(), link=link)

    def _may_see(self, job: Job, user: str, client: WebClient) -> bool:
        """The question is shown to the requester, on-call, approvers, and the members of
        the conversation it was asked in; a lookup that fails shows it to nobody else."""
        if user == job.requested_by or self.roles.is_oncall(user) or self.roles.is_approver(user):
            return True
        if not job.channel_id:
            return False
        try:
            found = call(client.conversations_members, channel=job.channel_id, limit=1000)
        except (SlackApiError, NotifyLater):
            return False
        return user in (found.get("members") or [])

    def _title(self, job: Job) -> str:
        kind = self.ctx.kinds.kinds.get(job.kind)
        return kind.title if kind else job.kind

    # -- App Home ---------------------------------------------------------------------

    def home_opened(self, event: Body, client: WebClient) -> None:
        """Publish the person's jobs whenever they open Errand's Home tab."""
        if event.get("tab", "home") != "home":
            return
        self._publish_home(event["user"], client)

    def notify_by_dm_pressed(self, body: Body, client: WebClient) -> None:
        """The App Home toggle: news of the person's jobs by DM, or by a mention."""
        user = body["user"]["id"]
        value = (body.get("actions") or [{}])[0].get("value")
        set_notify_by_dm(self.ctx.db, user, value == "on")
        self._publish_home(user, client)

    def _publish_home(self, user: str, client: WebClient) -> None:
        now = utcnow()
        mine = queries.recent(self.ctx.db, user=user, archived=False)
        by_dm = notify_by_dm(self.ctx.db, user)
        view = home_view(user, mine, now, by_dm=by_dm, links=self._links(client, mine))
        if self.roles.is_oncall(user):  # on-call also sees what needs a hand
            stuck = self._needing_oncall()
            listed = job_list(STUCK, stuck, now, links=self._links(client, stuck))
            view["blocks"].extend(listed[1][:ONCALL_BLOCKS])
        call(client.views_publish, user_id=user, view=view)

    def _needing_oncall(self) -> list[Job]:
        """Stuck jobs, then jobs whose news could not be delivered."""
        stuck = queries.stuck(self.ctx.db, self.ctx.kinds, utcnow())
        seen = {job.id for job in stuck}
        return stuck + [j for j in queries.undeliverable(self.ctx.db) if j.id not in seen]
