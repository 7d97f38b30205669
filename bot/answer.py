"""An interactive job's answer, streamed into its thread as the provider writes it.

Each `progress` notice of an `interactive` lane job carries the whole text so far: the
first starts a Slack stream in the job's thread (`chat.startStream`), later ones append
what is new (`chat.appendStream`), and `completed` appends the rest of the stored answer
and stops the stream (`chat.stopStream`). Which message streams, and how much of the
text it already holds, is kept in Redis per job. Where Slack refuses to stream (or a
stream breaks), the answer is posted as the usual result when the job completes; so it
is when the job runs past its kind's `interactive_seconds`: the stream is stopped with a
line saying so, and the job carries on in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.text import escape
from bot.budget import Budget
from bot.slack import call, error_code
from models.job import Job
from models.notifier import Milestone

log = logging.getLogger(__name__)

KEY = "errand:answer:{job_id}"
BACKGROUND = (
    "\n\n_This takes longer than a quick answer: it carries on in the background, and"
    " the whole answer follows in this thread when it is done._"
)
INTERRUPTED = (
    "\n\n_The answer was interrupted and is being written again: the whole answer follows"
    " in this thread when it is done._"
)
KEEP_FOR = 86_400  # seconds a job's stream record outlives its last change


class AnswerStream:
    """Streams interactive jobs' answers; see the module docstring."""

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
        self.streams_for = streams_for
        self.clock = clock

    def progress(self, m: Milestone) -> None:
        """Start the stream, or append what is new since the last progress; an answer
        interrupted (written again from the start) or past its time is handed over."""
        job, state = m.job, self._state(m.job.id)
        interrupted = bool(m.detail.get("interrupted"))
        if state.get("off") or ("text" not in m.detail and not interrupted):
            return
        text = escape(str(m.detail.get("text", "")))
        try:
            if interrupted or self._overdue(job):
                self._hand_over(job, state, INTERRUPTED if interrupted else BACKGROUND)
            elif "ts" not in state:
                self._start(job, text)
            elif len(text) > int(state["sent"]):
                self._append(job, str(state["ts"]), text[int(state["sent"]) :])
                self._save(job.id, sent=len(text))
        except SlackApiError as exc:
            self._give_up(job, error_code(exc))

    def finish(self, m: Milestone) -> bool:
        """Stop the job's stream with the rest of its answer; False when it has no live
        stream (the caller posts the result as usual)."""
        job, state = m.job, self._state(m.job.id)
        if "ts" not in state or state.get("off"):
            return False
        rest = escape(job.output_text or "")[int(state["sent"]) :]
        try:
            call(
                self.client.chat_stopStream,
                budget=self.budget,
                channel=job.channel_id,
                ts=str(state["ts"]),
                markdown_text=rest or None,
            )
        except SlackApiError as exc:
            self._give_up(job, error_code(exc))
            return False
        self.budget.redis.delete(KEY.format(job_id=job.id))
        return True

    def _overdue(self, job: Job) -> bool:
        limit = self.streams_for(job)
        started = job.started_at or job.created_at
        return limit is not None and (self.clock() - started).total_seconds() > limit

    def _hand_over(self, job: Job, state: dict[str, Any], line: str = BACKGROUND) -> None:
        """Past its interactive time (or interrupted: its worker died and the answer starts
        again, written anew): stop the stream with a line saying the answer follows when
        done; the job's result is then posted as usual."""
        if "ts" in state:
            call(
                self.client.chat_stopStream,
                budget=self.budget,
                channel=job.channel_id,
                ts=str(state["ts"]),
                markdown_text=line,
            )
        self._save(job.id, off=1)

    def _start(self, job: Job, text: str) -> None:
        answer = call(
            self.client.chat_startStream,
            budget=self.budget,
            channel=job.channel_id,
            thread_ts=job.thread_ts,
            markdown_text=text,
            recipient_user_id=job.requested_by,
            recipient_team_id=job.team_id,
        )
        self._save(job.id, ts=str(answer["ts"]), sent=len(text))

    def _append(self, job: Job, ts: str, more: str) -> None:
        call(
            self.client.chat_appendStream,
            budget=self.budget,
            channel=job.channel_id,
            ts=ts,
            markdown_text=more,
        )

    def _give_up(self, job: Job, code: str) -> None:
        log.info(
            "answer not streamed (%s); it is posted when complete",
            code,
            extra={"job_id": job.id, "error": code},
        )
        self._save(job.id, off=1)

    def _state(self, job_id: str) -> dict[str, Any]:
        raw = self.budget.redis.hgetall(KEY.format(job_id=job_id))
        return {_text(k): _text(v) for k, v in dict(raw).items()}

    def _save(self, job_id: str, **fields: str | int) -> None:
        key = KEY.format(job_id=job_id)
        self.budget.redis.hset(key, mapping=cast(dict[Any, Any], fields))
        self.budget.redis.expire(key, KEEP_FOR)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
