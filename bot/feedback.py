"""👍 and 👎 on a result: recorded on the job with who pressed them, counted for
`/metrics`, and a 👎 asks what was wrong in a modal (optional; skipping it keeps the 👎)."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.blocks.feedback import comment_modal, comment_of, pressed_value
from bot.context import BotContext
from bot.failures import explain
from bot.ids import BlockId
from bot.metrics import FEEDBACK
from bot.slack import call
from models.errors import ErrandError
from models.store import feedback, queries

log = logging.getLogger(__name__)

Body = dict[str, Any]


class Feedback:
    """The feedback buttons' press and the comment modal's submission."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def pressed(self, body: Body, action: Body, client: WebClient) -> None:
        """Record the press; a 👎 then opens the comment modal with the press's trigger."""
        user = str(body["user"]["id"])
        value, job_id = pressed_value(str(action.get("value") or ""))
        try:
            job = queries.get_job(self.ctx.db, job_id)
            event_id = feedback.record(self.ctx.db, job.id, actor=user, value=value)
        except ErrandError as refused:
            log.info("feedback not recorded", extra={"job_id": job_id, "error": str(refused)})
            return
        FEEDBACK.labels(job.kind, value).inc()
        log.info("feedback", extra={"job_id": job.id, "value": value})
        if value == "negative" and body.get("trigger_id"):
            modal = comment_modal(job.id, event_id)
            call(client.views_open, trigger_id=body["trigger_id"], view=modal)

    def commented(self, ack: Ack, body: Body, view: Body) -> None:
        """Store the comment with the 👎 it explains, then close the modal; a failure (the
        database away) shows in the modal, which stays open. An empty one changes nothing."""
        try:
            self._store_comment(str(body["user"]["id"]), view)
        except Exception as error:
            ack(response_action="errors", errors={BlockId.FEEDBACK_COMMENT.value: explain(error)})
            return
        ack()

    def _store_comment(self, user: str, view: Body) -> None:
        text = comment_of(view)
        meta = json.loads(view.get("private_metadata") or "{}")
        job_id, event_id = str(meta.get("job_id") or ""), meta.get("event")
        if not text or not job_id or not isinstance(event_id, int):
            return
        if not feedback.comment(self.ctx.db, job_id, event_id, actor=user, text=text):
            log.info("feedback comment had no press to go with", extra={"job_id": job_id})
