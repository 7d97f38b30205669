"""What each milestone says in the job's thread, and the review of drafts.

Unapproved drafts are shown only to approvers: the review request goes to the approvals
channel with the draft in its thread, and the requester's thread says only that a review
is pending. On approval the draft is delivered to the requester as the result; on
rejection the requester gets the reason and a button to redraft with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.answer import AnswerStream
from bot.blocks import review, thread
from bot.blocks.batch import results_comment
from bot.blocks.controls import actions_block
from bot.blocks.feedback import feedback_block
from bot.blocks.result import file_comment, result_messages, too_long_for_messages
from bot.blocks.text import section
from bot.budget import Budget
from bot.ids import CANNOT_POST, ActionId
from bot.plan import PlanStream
from bot.poster import ChannelGone, Part, Poster, Where
from bot.requester import Requester
from bot.slack import call, error_code
from models.batch import LANE, results_filename
from models.job import Job
from models.notifier import INTERRUPTED, Milestone, Undeliverable
from models.status import RESULTS, JobStatus

log = logging.getLogger(__name__)

# Lines about a job still under way: skipped once it has finished, and sent only while
# the channel's Slack budget has room to spare for results.
PASSING = frozenset({"started", "still_running", "progress"})
INTERACTIVE = "interactive"  # the lane whose answers stream into the thread (bot.answer)
# A batch lane job's end delivers its results file, whichever way the batch ended.
BATCH_ENDS = frozenset({"completed", "failed", "canceled", "expired"})
# What ends the plan a streaming job shows (bot.plan): its attempt, or the job, is over.
PLAN_ENDS = frozenset({"completed", "needs_review", "failed", "canceled", "expired", "retrying"})


class News:
    """Tells one milestone in its job's thread (and the approvals channel for reviews)."""

    def __init__(
        self,
        client: WebClient,
        budget: Budget,
        *,
        approvals: str | None,
        title: Callable[[Job], str],
        streams_for: Callable[[Job], float | None],
        alert: Callable[[str], None],
        clock: Callable[[], datetime],
        dm: Callable[[str], str],
        stream_seconds: float = 270.0,
    ) -> None:
        self.client = client
        self.budget = budget
        self.poster = Poster(client, budget)
        self.approvals = approvals
        self.title = title
        self.alert = alert
        self.clock = clock
        self.answers = AnswerStream(client, budget, streams_for=streams_for, clock=clock)
        self.requester = Requester(client, budget, self.poster, dm)
        self.plans = PlanStream(client, budget, lifetime=stream_seconds)

    def tell(self, m: Milestone) -> None:
        job, now = m.job, self.clock()
        lines: dict[str, Callable[[], str]] = {
            "started": lambda: thread.started(job, job.lane),
            "still_running": lambda: thread.still_running(job, now),
            "progress": lambda: thread.progress(m.detail),
            "canceling": lambda: thread.canceling(job),
            "retrying": lambda: thread.retrying(job),
            "failed": lambda: thread.failed(job),
            "canceled": lambda: thread.canceled(job),
            "expired": lambda: thread.expired(job),
            "escalated": lambda: thread.escalated(m.detail.get("by")),
        }
        flows: dict[str, Callable[[Milestone], None]] = {
            "completed": self._result,
            "needs_review": self._review,
            "approved": self._decided,
            "rejected": self._decided,
            "awaiting_approval": self._ask_to_start,
            "start_approved": self._start_approved,
            INTERRUPTED: self.answers.interrupted,
            "request_closed": lambda m: self._update_request(m.job, m.detail, closed=True),
        }
        if m.name in PASSING and job.status in RESULTS:
            return  # it finished meanwhile: its result says more than this line would
        if job.lane == INTERACTIVE and m.name in PASSING:
            # Its answer shows as it is written: that is the news. A "started" line would
            # take a post from the channel's budget and hold up the answer behind it.
            if m.name == "progress":
                self.answers.progress(m)
            return
        if m.name == "progress" and self._planned(m):
            return
        if m.name in PLAN_ENDS and job.lane != INTERACTIVE:
            self.plans.finish(m, completed=m.name in ("completed", "needs_review"))
        if job.lane == LANE and m.name in BATCH_ENDS and self._batch_results(m):
            return
        if m.name in lines:
            urgent = m.name not in PASSING
            self.poster.post_all(m, [Part(lines[m.name]())], step="line", urgent=urgent)
        elif m.name in flows:
            flows[m.name](m)

    def _planned(self, m: Milestone) -> bool:
        """A streaming job's progress shown as its plan's task cards; True too for a
        notice with nothing to tell as a line (steps alone, where Slack will not stream)."""
        return self.plans.progress(m, self.title(m.job)) or not m.detail.get("chars")

    # -- results ----------------------------------------------------------------------

    def _result(self, m: Milestone) -> None:
        if m.job.lane == INTERACTIVE and self.answers.finish(m):
            return  # the answer is the streamed message
        turn = f" (turn {m.job.turn})" if m.job.turn_number > 1 else ""
        by_dm = self.requester.by_dm(m)
        heading = f"Result of job {m.job.id}{turn}"
        ping = self.requester.ping(m, by_dm=by_dm)
        self.deliver(m, heading, where=None, step="result", ping=ping)
        if by_dm:
            self.requester.note(
                m, f"The result of your job `{m.job.id}`{turn} is in", step="result"
            )

    def deliver(
        self, m: Milestone, heading: str, *, where: Where | None, step: str, ping: str = ""
    ) -> None:
        """The whole output, in parts (or as a file when very long), each part once; `ping`
        (a mention of the requester) goes before its heading."""
        job = m.job
        if too_long_for_messages(job):
            self._file(m, heading, where or Where(str(job.channel_id), job.thread_ts), step, ping)
            return
        parts = [Part(msg.text, msg.blocks) for msg in result_messages(job, heading, ping=ping)]
        if step == "result":  # the answer people got (not a draft): 👍/👎 under its end
            last = parts[-1]
            parts[-1] = Part(last.text, [*(last.blocks or []), feedback_block(job)])
        self.poster.post_all(m, parts, step=step, where=where)

    def _file(self, m: Milestone, heading: str, where: Where, step: str, ping: str = "") -> None:
        if m.detail.get(f"{step}_sent"):
            return
        job = m.job
        call(
            self.client.files_upload_v2,
            budget=self.budget,
            channel=where.channel,
            thread_ts=where.thread_ts,
            content=job.output_text or "",
            filename=f"errand-{job.id}.md",
            title=heading,
            initial_comment=ping + file_comment(job, heading),
        )
        m.detail[f"{step}_sent"] = 1
        m.checkpoint(m.detail)

    def _batch_results(self, m: Milestone) -> bool:
        """The results file with its summary in the job's thread; False when the batch
        ended with none (refused, or stopped before any row ran): its line says why."""
        data = m.results() if m.job.output_text else None  # a retry clears the last summary
        if data is None:
            return False
        if m.detail.get("result_sent"):
            return True
        job = m.job
        try:
            call(
                self.client.files_upload_v2,
                budget=self.budget,
                channel=job.channel_id,
                thread_ts=job.thread_ts,
                content=data,
                filename=results_filename(job.id),
                title=f"Results of job {job.id}",
                initial_comment=results_comment(job),
            )
        except SlackApiError as exc:
            if error_code(exc) not in CANNOT_POST:
                raise
            self.budget.lose(str(job.channel_id))
            raise ChannelGone(error_code(exc)) from exc
        m.detail["result_sent"] = 1
        m.checkpoint(m.detail)
        return True

    # -- review -----------------------------------------------------------------------

    def _review(self, m: Milestone) -> None:
        """Request to the approvals channel, the draft under it, a note to the requester."""
        job = m.job
        if self.approvals is None:  # no approvals channel: all of it in the job's thread
            self._request(m, Where(str(job.channel_id), job.thread_ts))
            self.poster.post_all(m, [Part(thread.review_pending(None))], step="line")
            return
        try:
            self._request(m, Where(self.approvals, None))
        except ChannelGone as gone:
            raise self._unreviewable(m, str(gone)) from gone
        self.poster.post_all(m, [Part(thread.review_pending(self.approvals))], step="line")

    def _request(self, m: Milestone, where: Where) -> str:
        job = m.job
        text, blocks = review.approval_request(job, self.title(job), None)
        ts = self.poster.post_all(m, [Part(text, blocks)], step="request", where=where)
        draft_in = Where(where.channel, where.thread_ts or ts)
        self.deliver(m, f"Draft of job {job.id} (not final)", where=draft_in, step="draft")
        return ts

    def _ask_to_start(self, m: Milestone) -> None:
        """Held before it starts (its kind needs an approver, or it is over its
        requester's budget): approvers decide whether the job starts; the requester is told
        it waits, and why."""
        job = m.job
        text, blocks = review.start_request(job, self.title(job), m.detail)
        where = Where(self.approvals, None) if self.approvals else None
        try:
            self.poster.post_all(m, [Part(text, blocks)], step="request", where=where)
        except ChannelGone as gone:
            raise self._unreviewable(m, str(gone)) from gone
        self.poster.post_all(m, [Part(thread.awaiting_approval(m.detail))], step="line")

    def _start_approved(self, m: Milestone) -> None:
        self._update_request(m.job, m.detail)
        by_dm = self.requester.by_dm(m)
        line = f"{review.decision_line(m.job)}: the job starts now."
        self.poster.post_all(m, [Part(self.requester.ping(m, by_dm=by_dm) + line)], step="line")
        if by_dm:
            self.requester.note(m, f"Your job `{m.job.id}` was approved to start", step="line")

    def _unreviewable(self, m: Milestone, code: str) -> Undeliverable:
        """Approvers cannot be reached: say so to the requester and on-call; the draft
        stays unseen rather than going anywhere else."""
        job = m.job
        self.alert(
            f"Errand cannot post in the approvals channel <#{self.approvals}> ({code}): "
            f"job `{job.id}` waits for a review nobody can see."
        )
        line = (
            ":warning: The draft is ready, but Errand cannot reach the approvers; "
            "on-call has been told."
        )
        self.poster.post_all(m, [Part(line)], step="line")
        return Undeliverable(f"approvals channel unreachable: {code}")

    def _decided(self, m: Milestone) -> None:
        """Update the review request (who, when), then tell the requester: the approved
        draft as the result, or the reason with a way to redraft."""
        job = m.job
        self._update_request(job, m.detail)
        by_dm = self.requester.by_dm(m)
        ping = self.requester.ping(m, by_dm=by_dm)
        if job.status == JobStatus.COMPLETED:
            heading = f"Approved draft of job {job.id}"
            self.deliver(m, heading, where=None, step="result", ping=ping)
            self.poster.post_all(m, [Part(review.decision_line(job))], step="line")
            if by_dm:
                self.requester.note(m, f"Your job `{job.id}` was approved", step="result")
            return
        line = ping + review.decision_line(job)
        # A rejected draft can be written again with the feedback; a job that never
        # started (held by its budget) has nothing to redraft.
        redraft = actions_block(job.id, [ActionId.JOB_REDRAFT]) if job.output_text else []
        self.poster.post_all(m, [Part(line, [section(line), *redraft])], step="line")
        if by_dm:
            self.requester.note(m, f"Your job `{job.id}` was rejected", step="line")

    def _update_request(self, job: Job, where: dict[str, Any], *, closed: bool = False) -> None:
        """The request as decided, or `closed` (the job ended first); `where` is the
        message (the approvals channel, or the job's, when only its ts is known)."""
        channel = where.get("channel") or self.approvals or job.channel_id
        if not (channel and where.get("ts")):
            return
        text, blocks = (review.closed_request if closed else review.decided_request)(
            job, self.title(job)
        )
        try:
            call(
                self.client.chat_update,
                budget=self.budget,
                channel=channel,
                ts=where["ts"],
                text=text,
                blocks=blocks,
            )
        except SlackApiError as exc:  # the request is a record once decided: tell, go on
            log.warning("review request not updated", extra={"error": error_code(exc)})
