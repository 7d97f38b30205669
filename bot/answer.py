"""An interactive job's answer, shown in its thread as the provider writes it.

Each `progress` notice of an `interactive` lane job carries the whole text so far, so
any notice can bring the thread up to date, whoever delivers it and after whatever
restart. The first starts a Slack stream in the job's thread (`chat.startStream`), later
ones append what is new (`chat.appendStream`), and `completed` appends the rest and stops
the stream (`chat.stopStream`). Streamed text goes out as `bot.blocks.streaming` renders
it, so no piece sent ever needs rewriting and nobody is pinged.

Where Slack refuses to stream, the answer is one ordinary message instead, edited in
place as it grows (`chat.update`, at most once per EDIT_EVERY, for Slack's Tier 3); a
stream that Slack closed meanwhile (it closes them after a few minutes) carries on the
same way. A job past its kind's `interactive_seconds` ends its message with a line saying
so and carries on in the background; its result is posted as usual. Which message shows
the answer, how, and what a stream holds (its length and digest) is kept in Redis per job.

A stream only appends, so it goes on only while it is exact: an append whose outcome is
unknown (a timeout, a worker killed mid-call) or a text that does not begin with what
was streamed (an attempt begun again) ends it with a line saying the whole answer
follows, and the result is posted whole: never spliced, never repeated.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.feedback import feedback_block
from bot.blocks.streaming import settled, whole
from bot.blocks.text import fit, mrkdwn, size
from bot.budget import Budget
from bot.job_record import JobRecords
from bot.slack import call, error_code
from models.job import Job
from models.notifier import Milestone, NotifyLater

log = logging.getLogger(__name__)

BACKGROUND = (
    "\n\n_This takes longer than a quick answer: it carries on in the background, and"
    " the whole answer follows in this thread when it is done._"
)
WRITTEN_AGAIN = (
    "\n\n_The answer was interrupted and is being written again: the whole answer follows"
    " in this thread when it is done._"
)
CUT_SHORT = "\n\n_The answer stops here: the whole of it follows in this thread when it is done._"
TOO_LONG = "\n\n_The answer is longer than one message: the whole of it follows below._"
EDIT_EVERY = 1.5  # seconds between edits of one message: chat.update is Tier 3, ~50 a minute
MESSAGE_MAX = 39_000  # characters of an edited answer (Slack keeps 40,000 of a message's text)
KEEP_FOR_FINAL = 3  # chat.update tokens a passing edit leaves for cards and finished answers
CLOSED = "message_not_in_streaming_state"  # Slack ended the stream (its lifetime is up)
STREAM, EDIT = "stream", "edit"


class AnswerStream:
    """Shows interactive jobs' answers as they grow; see the module docstring."""

    def __init__(
        self,
        client: WebClient,
        budget: Budget,
        *,
        streams_for: Callable[[Job], float | None],
        clock: Callable[[], datetime],
    ) -> None:
        self.client = client
        self.budget = budget
        self.records = JobRecords(budget.redis, "errand:answer:{job_id}")
        self.streams_for = streams_for
        self.clock = clock

    def progress(self, m: Milestone) -> None:
        """Bring the job's answer up to the text so far. A call Slack's budget holds back
        is skipped rather than waited for: the next notice carries all of this text too."""
        job, state = m.job, self.records.read(m.job.id)
        if state.get("off") or "text" not in m.detail:
            return
        try:
            self._show(job, state, str(m.detail["text"]))
        except NotifyLater as later:
            if later.uncertain:
                raise  # it may have reached Slack: the outbox checks before trying again
            log.info("answer update skipped: %s", later, extra={"job_id": job.id})
        except SlackApiError as exc:
            self._give_up(job, error_code(exc))

    def interrupted(self, m: Milestone) -> None:
        """The answer is being written again (`INTERRUPTED`): see `_interrupted`. Only
        this notice tells it, so a wait is raised for the outbox, never skipped."""
        job, state = m.job, self.records.read(m.job.id)
        try:
            if not state.get("off"):
                self._interrupted(job, state, WRITTEN_AGAIN)
        except SlackApiError as exc:
            self._give_up(job, error_code(exc))

    def finish(self, m: Milestone) -> bool:
        """End the job's answer message with the whole answer; False when it has none
        (or the answer outgrew it), and the caller posts the result as usual."""
        job, state = m.job, self.records.read(m.job.id)
        if "ts" not in state or state.get("off"):
            return False
        text = job.output_text or ""
        try:
            if state.get("mode") == EDIT:
                return self._finish_edit(job, state, text)
            if not _continues(state, whole(text)):
                self._interrupted(job, state, CUT_SHORT)
                return False
            self._stop(job, state, whole(text)[int(state["sent"]) :], answered=True)
        except SlackApiError as exc:
            if error_code(exc) == CLOSED:
                return self._finish_edit(job, state, text)
            self._give_up(job, error_code(exc))
            return False
        self.records.forget(job.id)
        return True

    # -- progress -----------------------------------------------------------------------

    def _show(self, job: Job, state: dict[str, Any], text: str) -> None:
        if self._overdue(job):
            self._hand_over(job, state, text)
        elif "ts" not in state:
            self._open(job, state, text)
        elif state.get("mode") == EDIT:
            self._edit(job, state, _message(text))
        else:
            self._append(job, state, text)

    def _overdue(self, job: Job) -> bool:
        limit = self.streams_for(job)
        started = job.started_at or job.created_at
        return limit is not None and (self.clock() - started).total_seconds() > limit

    def _hand_over(self, job: Job, state: dict[str, Any], text: str) -> None:
        """Past its interactive time: end the message with a line saying the answer
        follows when done; the job's result is then posted as usual."""
        if state.get("mode") == EDIT:
            self._edit(job, state, _message(text, BACKGROUND), final=True)
        elif "ts" in state:
            shown = settled(text)
            rest = shown[int(state["sent"]) :] if _continues(state, shown) else ""
            self._stop(job, state, rest + BACKGROUND)
        self.records.save(job.id, off=1)  # only once said: a call held back is tried again

    def _interrupted(self, job: Job, state: dict[str, Any], line: str) -> None:
        """The stream cannot go on as it began: it ends with `line`, saying the whole
        answer follows; an edited message is left as it is. The result is posted whole."""
        if state.get("mode") == STREAM:
            self._stop(job, state, line)
        self.records.save(job.id, off=1)

    def _open(self, job: Job, state: dict[str, Any], text: str) -> None:
        """A stream in the job's thread; where Slack refuses one, or its budget for
        starting streams is spent (Tier 2: about 20 a minute for the whole workspace), a
        message to edit, so the first words show without waiting for a stream. After a
        start whose outcome is unknown, none: the thread may hold one already."""
        shown = settled(text)
        if not shown:
            return  # nothing that cannot still change: the next notice starts it
        if state.get("unsure") == "1":
            self._give_up(job, "a start whose outcome is unknown")
            return
        with self.records.under_way(job.id):
            try:
                answer = call(
                    self.client.chat_startStream,
                    budget=self.budget,
                    channel=job.channel_id,
                    thread_ts=job.thread_ts,
                    markdown_text=shown,
                    recipient_user_id=job.requested_by,
                    recipient_team_id=job.team_id,
                )
            except (SlackApiError, NotifyLater) as exc:
                if isinstance(exc, NotifyLater) and exc.uncertain:
                    raise  # a stream may have started
                why = error_code(exc) if isinstance(exc, SlackApiError) else "no budget"
                log.info(
                    "not streamed (%s): the answer is one message, edited as it grows",
                    why,
                    extra={"job_id": job.id, "error": why},
                )
                self._post(job, text)
                return
        self.records.save(
            job.id,
            mode=STREAM,
            ts=str(answer["ts"]),
            sent=len(shown),
            digest=_digest(shown),
            unsure=0,
        )

    def _post(self, job: Job, text: str) -> None:
        answer = call(
            self.client.chat_postMessage,
            budget=self.budget,
            channel=job.channel_id,
            thread_ts=job.thread_ts,
            text=_message(text),
        )
        self.records.save(job.id, mode=EDIT, ts=str(answer["ts"]), edited=time.time(), unsure=0)

    def _append(self, job: Job, state: dict[str, Any], text: str) -> None:
        shown = settled(text)
        if not _continues(state, shown):
            self._interrupted(job, state, CUT_SHORT)
            return
        more = shown[int(state["sent"]) :]
        if not more:
            return
        with self.records.under_way(job.id):
            try:
                call(
                    self.client.chat_appendStream,
                    budget=self.budget,
                    channel=job.channel_id,
                    ts=str(state["ts"]),
                    markdown_text=more,
                )
            except SlackApiError as exc:
                if error_code(exc) != CLOSED:
                    raise
                self.records.save(job.id, mode=EDIT, unsure=0)  # Slack ended it: edit it on
                self._edit(job, {**state, "mode": EDIT}, _message(text))
                return
        self.records.save(job.id, sent=len(shown), digest=_digest(shown), unsure=0)

    def _edit(self, job: Job, state: dict[str, Any], body: str, *, final: bool = False) -> None:
        """Replace the message's text, at most once per EDIT_EVERY unless it is the last."""
        if not final and time.time() - float(state.get("edited", 0)) < EDIT_EVERY:
            return
        call(
            self.client.chat_update,
            budget=self.budget,
            keep=0 if final else KEEP_FOR_FINAL,
            channel=job.channel_id,
            ts=str(state["ts"]),
            text=body,
        )
        self.records.save(job.id, edited=time.time())

    # -- the end ------------------------------------------------------------------------

    def _stop(self, job: Job, state: dict[str, Any], rest: str, *, answered: bool = False) -> None:
        """End the stream with `rest`; a whole answer (`answered`) gets 👍/👎 at its foot."""
        call(
            self.client.chat_stopStream,
            budget=self.budget,
            channel=job.channel_id,
            ts=str(state["ts"]),
            markdown_text=rest or None,
            blocks=[feedback_block(job)] if answered else None,
        )

    def _finish_edit(self, job: Job, state: dict[str, Any], text: str) -> bool:
        """The whole answer as the message's last edit; one too long for a message keeps
        what it showed with a line that the whole answer follows (posted by the caller)."""
        body = mrkdwn(text)
        fits = size(body) <= MESSAGE_MAX
        try:
            self._edit(job, state, body if fits else _message(text, TOO_LONG), final=True)
        except SlackApiError as exc:
            self._give_up(job, error_code(exc))
            return False
        self.records.forget(job.id)
        return fits

    def _give_up(self, job: Job, code: str) -> None:
        log.info(
            "answer not shown as it grows (%s); it is posted when complete",
            code,
            extra={"job_id": job.id, "error": code},
        )
        self.records.save(job.id, off=1)


def _message(text: str, ending: str = "") -> str:
    """The answer so far as one message's mrkdwn, cut to leave room for its `ending`."""
    return fit(text, MESSAGE_MAX - size(ending), markdown=True) + ending


def _continues(state: dict[str, Any], text: str) -> bool:
    """Whether the stream `state` describes holds exactly the start of `text`."""
    held = _digest(text[: int(state["sent"])])
    return state.get("unsure") != "1" and state.get("digest") == held


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
