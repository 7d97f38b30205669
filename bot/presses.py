"""Button presses and the reject modal: re-check role and status on the server, do what
was asked through the store, audit every press (accepted or not), and answer the person."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.blocks.people import actor
from bot.blocks.review import reject_modal
from bot.context import BotContext
from bot.failures import explain
from bot.ids import ActionId, BlockId
from bot.metrics import PRESSES
from bot.roles import Roles, refusal
from bot.slack import call
from models.errors import ErrandError, JobNotFound, TransitionRefused
from models.job import Job
from models.status import JobStatus
from models.store import actions, marks, queries, stops

log = logging.getLogger(__name__)

Body = dict[str, Any]
NO_ONCALL = (
    "Errand has no on-call channel set up (ERRAND_ONCALL_CHANNEL), so there is nobody to "
    "escalate to; nothing changed."
)


class Presses:
    """The job buttons and the reject modal, sharing the bot's context and the roles."""

    def __init__(self, ctx: BotContext, roles: Roles) -> None:
        self.ctx = ctx
        self.roles = roles

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
            ActionId.JOB_REDRAFT: lambda: self._redraft(job, user),
            ActionId.JOB_ARCHIVE: lambda: self._archive(job, user),
            ActionId.JOB_ESCALATE: lambda: self._escalate(job, user),
        }
        try:
            return "ok", handlers[act]()
        except TransitionRefused as refused:
            return "stale", stale(queries.get_job(self.ctx.db, job.id), act, refused)
        except ErrandError as refused:
            return "refused", str(refused)

    def stop(self, job: Job, user: str) -> str:
        """Slack's Stop on the job's thread: the Cancel button's rules and store path,
        audited as a press of Cancel by `user`; returns what to tell them."""
        act = ActionId.JOB_CANCEL
        denied = refusal(act, job, user, self.roles)
        if denied:
            outcome, answer = "refused", denied
        else:
            try:
                outcome, answer = "ok", self._cancel(job, user)
            except TransitionRefused as refused:
                outcome = "stale"
                answer = stale(queries.get_job(self.ctx.db, job.id), act, refused)
        self._record(job.id, user, act, outcome, answer, via="Slack's Stop")
        return answer

    def _cancel(self, job: Job, user: str) -> str:
        outcome = stops.request_cancel(self.ctx.db, self.ctx.dispatch, job.id, actor=user)
        if outcome == "already canceling":
            return f"Job `{job.id}` is already being canceled."
        if outcome == "canceled":  # it never reached the provider: canceled at once
            return f"Canceled job `{job.id}`."
        return f"Canceling job `{job.id}`."

    def _retry(self, job: Job, user: str) -> str:
        again = actions.request_retry(self.ctx.db, self.ctx.kinds, job.id, actor=user)
        return f"Job `{job.id}` is queued again as attempt {again.attempts}."

    def _redraft(self, job: Job, user: str) -> str:
        again = actions.redraft(self.ctx.db, self.ctx.kinds, job.id, actor=user)
        return f"Job `{job.id}` is being redrafted with the feedback (attempt {again.attempts})."

    def _archive(self, job: Job, user: str) -> str:
        marks.archive(self.ctx.db, job.id, actor=user)
        return (
            f"Archived job `{job.id}`: it no longer shows in `/jobs` or App Home "
            f"(`/jobs {job.id}` still finds it)."
        )

    def _escalate(self, job: Job, user: str) -> str:
        channel = self.ctx.settings.oncall_channel
        if not channel:
            return NO_ONCALL
        marks.escalate(self.ctx.db, job.id, actor=user)
        return f"Escalated job `{job.id}` to on-call in <#{channel}>; its thread says so too."

    def _approve(self, job: Job, user: str, body: Body) -> str:
        where = request_location(body)
        decided = actions.decide(self.ctx.db, job.id, actor=user, approve=True, where=where)
        if decided.status == JobStatus.QUEUED:  # held by its requester's budget: it starts
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

    def _record(
        self, job_id: str, user: str, act: ActionId, outcome: str, answer: str, via: str = ""
    ) -> None:
        """Every press is audited with its actor, accepted or not (and where it was made,
        when not on Errand's own button)."""
        PRESSES.labels(act.value, outcome).inc()
        said = f"{outcome} ({via})" if via else outcome
        detail = f"{said}: {answer}" if answer else said
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
        """Reject with the reason; a refusal, a decision already made, or a failure (the
        database away) shows in the modal, which stays open."""
        try:
            self._reject_submitted(ack, body, view)
        except Exception as error:
            ack(response_action="errors", errors={BlockId.REASON.value: explain(error)})

    def _reject_submitted(self, ack: Ack, body: Body, view: Body) -> None:
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
        return (
            f"Already decided: {actor(job.decided_by)} {verdict} job `{job.id}`; nothing changed."
        )
    what = {
        ActionId.JOB_CANCEL: "only queued or running jobs can be canceled",
        ActionId.JOB_RETRY: "only failed, canceled or expired jobs can be retried",
    }.get(act, "only jobs waiting for an approver can be approved or rejected")
    return f"Job `{job.id}` is {refused.current.value.replace('_', ' ')}; {what}; nothing changed."


def _reason(view: Body) -> str:
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(BlockId.REASON.value) or {}).get(BlockId.REASON_INPUT.value) or {}
    return str(field.get("value") or "").strip() or "no reason given"
