"""Thin Bolt listeners: validate, ack, call the job service, render. The table of contents
is `register_listeners`."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.blocks.card import card
from bot.blocks.home import home_view
from bot.blocks.lists import job_list
from bot.blocks.review import reject_modal
from bot.context import BotContext
from bot.failures import answering, explain
from bot.ids import ActionId, BlockId, CallbackId, Command, EventType
from bot.metrics import JOBS_STARTED, PRESSES
from bot.roles import Roles, refusal
from bot.slack import call
from models.base import utcnow
from models.errors import ErrandError, JobNotFound, TransitionRefused
from models.job import Job
from models.kinds import Kind
from models.status import JobStatus
from models.store import actions, queries, stops
from models.store.submission import submit, validate_input

log = logging.getLogger(__name__)

Body = dict[str, Any]


def register_listeners(app: App, ctx: BotContext, roles: Roles) -> None:
    """Every command, button, modal and event Errand answers.

    The ack is answered on the request's thread with nothing slow before it; the
    work (Slack calls, most database work) runs lazily after it. A job command
    stores its job before answering, and the reject modal waits for the decision,
    because each answer depends on what was stored.
    """
    on = Listeners(ctx, roles)
    for command in (Command.RESEARCH, Command.DRAFT):
        app.command(command.value)(on.start_job)
    app.command(Command.JOBS.value)(ack=_ack, lazy=[answering(on.list_jobs)])
    for action in ActionId:
        app.action(action.value)(ack=_ack, lazy=[answering(on.press)])
    app.view(CallbackId.REJECT_REASON.value)(on.reject_submitted)
    app.event(EventType.APP_HOME_OPENED.value)(ack=_ack, lazy=[on.home_opened])


def _ack(ack: Ack) -> None:
    ack()


def idempotency_key(command: Body) -> str:
    """Slack's trigger_id, so a retried delivery of the same command finds the first job."""
    if command.get("trigger_id"):
        return f"slack:{command['trigger_id']}"[:128]
    minute = int(utcnow().timestamp() // 60)
    parts = [command.get(k, "") for k in ("team_id", "user_id", "command", "text")]
    return "slack:" + hashlib.sha256(f"{parts}{minute}".encode()).hexdigest()


class Listeners:
    """The listeners, sharing the bot's context and the role resolver."""

    def __init__(self, ctx: BotContext, roles: Roles) -> None:
        self.ctx = ctx
        self.roles = roles

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
        kind, text = request
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
            )
        except Exception as error:  # the person is told why, in the answer itself
            ack(response_type="ephemeral", text=explain(error))
            return
        JOBS_STARTED.labels(kind.name).inc()
        ack(
            response_type="ephemeral",
            text=f"Started your {kind.title.lower()} job `{job.id}`; its status card follows.",
        )

    def _job_request(self, command: Body) -> tuple[Kind, str] | str:
        """(kind, input) of a job command, or the sentence that refuses it."""
        kind = self.ctx.kinds.by_command(command["command"])
        if kind is None:
            return f"{command['command']} is not set up in this Errand."
        try:
            return kind, validate_input(kind, command.get("text", ""))
        except ErrandError as refused:
            return str(refused)

    def list_jobs(self, command: Body, respond: Respond) -> None:
        """/jobs [mine|all|stuck|ID], always ephemeral."""
        user = command["user_id"]
        word = (command.get("text") or "").strip()
        now = utcnow()
        if word.lower() in ("", "mine"):
            mine = queries.recent(self.ctx.db, user=user)
            text, blocks = job_list("Your recent jobs", mine, now)
        elif word.lower() in ("all", "stuck"):
            if not self.roles.is_oncall(user):
                respond(response_type="ephemeral", text=f"`/jobs {word}` is for on-call only.")
                return
            rows = (
                queries.recent(self.ctx.db)
                if word.lower() == "all"
                else queries.stuck(self.ctx.db, self.ctx.kinds, now)
            )
            text, blocks = job_list(f"{word.capitalize()} jobs", rows, now)
        else:
            text, blocks = self._one_job(word)
        respond(response_type="ephemeral", text=text, blocks=blocks)

    def _one_job(self, job_id: str) -> tuple[str, list[dict[str, Any]]]:
        try:
            job = queries.get_job(self.ctx.db, job_id)
        except JobNotFound:
            return (
                f"There is no job `{job_id[:20]}`. Try `/jobs mine`.",
                [],
            )
        return card(job, self._title(job), utcnow())

    def _title(self, job: Job) -> str:
        kind = self.ctx.kinds.kinds.get(job.kind)
        return kind.title if kind else job.kind

    # -- buttons ----------------------------------------------------------------------

    def press(self, body: Body, action: Body, respond: Respond, client: WebClient) -> None:
        """Any job button: re-check role and status on the server, record the press, answer."""
        user = body["user"]["id"]
        act = ActionId(action["action_id"])
        try:
            job = queries.get_job(self.ctx.db, str(action.get("value") or ""))
        except JobNotFound as missing:
            self._tell(body, respond, client, f"There is no job `{missing.job_id[:20]}`.")
            return
        denied = refusal(act, job, user, self.roles)
        outcome, answer = ("refused", denied) if denied else self._do(act, job, user, body, client)
        self._record(job.id, user, act, outcome, answer)
        if answer:
            self._tell(body, respond, client, answer)

    def _do(
        self, act: ActionId, job: Job, user: str, body: Body, client: WebClient
    ) -> tuple[str, str]:
        """(outcome, sentence) of a permitted press; a stale one changes nothing."""
        handlers: dict[ActionId, Callable[[], str]] = {
            ActionId.JOB_CANCEL: lambda: self._cancel(job, user),
            ActionId.JOB_RETRY: lambda: self._retry(job, user),
            ActionId.JOB_APPROVE: lambda: self._approve(job, user, body),
            ActionId.JOB_REJECT: lambda: self._open_reject(job, body, client),
        }
        try:
            return "ok", handlers[act]()
        except TransitionRefused as refused:
            return "stale", stale(queries.get_job(self.ctx.db, job.id), act, refused)
        except ErrandError as refused:
            return "refused", str(refused)

    def _cancel(self, job: Job, user: str) -> str:
        outcome = stops.request_cancel(self.ctx.db, self.ctx.dispatch, job.id, actor=user)
        if outcome == "already canceling":
            return f"Job `{job.id}` is already being canceled."
        return (
            f"Canceled job `{job.id}`." if outcome == "canceled" else f"Canceling job `{job.id}`."
        )

    def _retry(self, job: Job, user: str) -> str:
        again = actions.request_retry(self.ctx.db, self.ctx.kinds, job.id, actor=user)
        return f"Job `{job.id}` is queued again as attempt {again.attempts}."

    def _approve(self, job: Job, user: str, body: Body) -> str:
        where = request_location(body)
        decided = actions.decide(self.ctx.db, job.id, actor=user, approve=True, where=where)
        if decided.status == JobStatus.QUEUED:
            return f"Approved job `{job.id}`; it starts now."
        return f"Approved job `{job.id}`; the result is being delivered."

    def _open_reject(self, job: Job, body: Body, client: WebClient) -> str:
        """Ask for the reason first; the status is checked again when the modal is submitted."""
        if job.status not in (JobStatus.NEEDS_REVIEW, JobStatus.AWAITING_APPROVAL):
            raise TransitionRefused(job.id, job.status, JobStatus.REJECTED)
        where = request_location(body) or {}
        modal = reject_modal(job.id, where.get("channel"), where.get("ts"))
        call(client.views_open, trigger_id=body["trigger_id"], view=modal)
        return ""

    def _record(self, job_id: str, user: str, act: ActionId, outcome: str, answer: str) -> None:
        """Every press is audited with its actor, accepted or not."""
        PRESSES.labels(act.value, outcome).inc()
        detail = f"{outcome}: {answer}" if answer else outcome
        actions.record_press(self.ctx.db, job_id, actor=user, action=act.value, detail=detail)

    def _tell(self, body: Body, respond: Respond, client: WebClient, text: str) -> None:
        """An ephemeral answer where the press happened (a DM from App Home)."""
        if body.get("response_url"):
            respond(text=text, response_type="ephemeral", replace_original=False)
            return
        opened = call(client.conversations_open, users=body["user"]["id"])
        call(client.chat_postMessage, channel=opened["channel"]["id"], text=text)

    # -- the reject modal -------------------------------------------------------------

    def reject_submitted(self, ack: Ack, body: Body, view: Body) -> None:
        """Reject with the reason; a refusal or a decision already made shows in the modal."""
        user = body["user"]["id"]
        meta = json.loads(view.get("private_metadata") or "{}")
        reason = _reason(view)
        job = queries.get_job(self.ctx.db, str(meta.get("job_id") or ""))
        answer = refusal(ActionId.JOB_REJECT, job, user, self.roles)
        outcome = "refused"
        if answer is None:
            answer = self._reject(job, user, reason, meta)
            outcome = "stale" if answer else "ok"
        self._record(job.id, user, ActionId.JOB_REJECT, outcome, answer or "")
        if answer:
            ack(response_action="errors", errors={BlockId.REASON.value: answer})
        else:
            ack()

    def _reject(self, job: Job, user: str, reason: str, meta: Body) -> str | None:
        where = {"channel": meta.get("channel"), "ts": meta.get("ts")}
        try:
            actions.decide(self.ctx.db, job.id, actor=user, approve=False, note=reason, where=where)
        except TransitionRefused as refused:
            return stale(queries.get_job(self.ctx.db, job.id), ActionId.JOB_REJECT, refused)
        return None

    # -- App Home ---------------------------------------------------------------------

    def home_opened(self, event: Body, client: WebClient) -> None:
        """Publish the person's jobs whenever they open Errand's Home tab."""
        if event.get("tab", "home") != "home":
            return
        user = event["user"]
        view = home_view(user, queries.recent(self.ctx.db, user=user), utcnow())
        call(client.views_publish, user_id=user, view=view)


def request_location(body: Body) -> dict[str, Any] | None:
    """Where the pressed message lives, so the notifier can update it after the decision."""
    container = body.get("container") or {}
    if container.get("is_ephemeral") or not container.get("message_ts"):
        return None
    return {"channel": container.get("channel_id"), "ts": container.get("message_ts")}


def stale(job: Job, act: ActionId, refused: TransitionRefused) -> str:
    """The sentence for a press the job's current status no longer allows."""
    if job.decided_by and act in (ActionId.JOB_APPROVE, ActionId.JOB_REJECT):
        verdict = "rejected" if job.status == JobStatus.REJECTED else "approved"
        return f"Already decided: <@{job.decided_by}> {verdict} job `{job.id}`; nothing changed."
    what = {
        ActionId.JOB_CANCEL: "only queued or running jobs can be canceled",
        ActionId.JOB_RETRY: "only failed, canceled or expired jobs can be retried",
    }.get(act, "only jobs waiting for an approver can be approved or rejected")
    return f"Job `{job.id}` is {refused.current.value.replace('_', ' ')}; {what}; nothing changed."


def _reason(view: Body) -> str:
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(BlockId.REASON.value) or {}).get(BlockId.REASON_INPUT.value) or {}
    return str(field.get("value") or "").strip() or "no reason given"
