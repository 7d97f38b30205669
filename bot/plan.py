"""A streaming job's plan, shown in its thread as task cards while the provider works.

A `progress` notice of a job outside the interactive lane carries the steps the provider
has taken (thinking, searching, writing; `models.steps`). The first starts a Slack stream
in the job's thread (`chat.startStream` with `task_update` chunks, shown as one plan);
later ones append the cards that changed (`chat.appendStream`). Slack closes a stream
about five minutes after it starts, so a plan whose message is older than
`ERRAND_SLACK_STREAM_SECONDS` (or holds MAX_TASKS cards) ends that message with a line
that it continues, and goes on in a fresh one carrying the steps still under way; one
that Slack closed first simply goes on in a fresh one. The job's end stops the stream
with every card settled (complete, or error when it did not complete), and its result or
reason follows as usual.

Where Slack refuses to stream, or its budget for starting streams (Tier 2) is spent, the
job's progress is told as it was before plans: milestone lines. Which message shows the
plan, and which cards it shows how, is kept in Redis per job.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.tasks import COMPLETE, ERROR, continued_below, plan_update, task_update
from bot.budget import Budget
from bot.job_record import JobRecords
from bot.slack import call, error_code
from models.job import Job
from models.notifier import Milestone, NotifyLater

log = logging.getLogger(__name__)

MAX_TASKS = 20  # cards one message holds before the plan moves on to a fresh one
CLOSED = "message_not_in_streaming_state"  # Slack ended the stream (its lifetime is up)
JSON = dict[str, Any]


class PlanStream:
    """Shows streaming jobs' plans as they unfold; see the module docstring."""

    def __init__(self, client: WebClient, budget: Budget, *, lifetime: float) -> None:
        self.client = client
        self.budget = budget
        self.records = JobRecords(budget.redis, "errand:plan:{job_id}")
        self.lifetime = lifetime

    def progress(self, m: Milestone, title: str) -> bool:
        """Bring the job's plan up to this notice; False when no plan is shown (Slack
        refused to stream, or no step is known yet) and the notice is told as a line."""
        job, state = m.job, self._state(m.job.id)
        steps = [s for s in m.detail.get("steps") or [] if isinstance(s, dict) and "n" in s]
        if state.get("off") or not (steps or "ts" in state):
            return False
        chars = int(m.detail.get("chars") or 0)
        cards = [task_update(step, chars) for step in steps]
        try:
            return self._show(job, state, cards, title)
        except NotifyLater as later:
            if later.uncertain:
                raise  # it may have reached Slack: the outbox tries again
            log.info("plan update skipped: %s", later, extra={"job_id": job.id})
            return True  # the next notice carries every card again
        except SlackApiError as exc:
            self._give_up(job, error_code(exc))
            return "ts" in state

    def finish(self, m: Milestone, *, completed: bool) -> None:
        """Settle every card and stop the stream; best effort, since the result must not
        wait for it (a stream left open ends by itself within minutes)."""
        job, state = m.job, self._state(m.job.id)
        if "ts" in state and not state.get("off"):
            status = COMPLETE if completed else ERROR
            last = [_settled(c, status, job) for c in state["cards"].values()]
            try:
                self._stop(job, state, [c for c in last if c != state["cards"][c["id"]]])
            except (SlackApiError, NotifyLater) as exc:
                why = error_code(exc) if isinstance(exc, SlackApiError) else str(exc)
                log.info("plan not stopped (%s)", why, extra={"job_id": job.id})
        self.records.forget(job.id)

    # -- showing ------------------------------------------------------------------------

    def _show(self, job: Job, state: JSON, cards: list[JSON], title: str) -> bool:
        if "ts" not in state:
            return self._open(job, state, cards, title)
        fresh = [c for c in cards if c["id"] not in state["cards"] and c["id"] not in state["past"]]
        full = len(state["cards"]) + len(fresh) > MAX_TASKS
        if full or time.time() - float(state["opened"]) > self.lifetime:
            return self._move_on(job, state, cards, title)
        changed = [c for c in cards if c["id"] not in state["past"] and _differs(c, state)]
        if not changed:
            return True
        try:
            self._append(job, state, changed)
        except SlackApiError as exc:
            if error_code(exc) != CLOSED:
                raise
            return self._open(job, _retired(state), cards, title)
        return True

    def _open(self, job: Job, state: JSON, cards: list[JSON], title: str) -> bool:
        """A stream in the job's thread with the cards not shown settled in an earlier
        message; False (and lines from now on) where Slack refuses one, its budget for
        starting streams is spent, or an earlier start's outcome is unknown (the thread may
        hold that plan: a second would repeat it)."""
        shown = [c for c in cards if c["id"] not in state["past"]]
        heading = plan_update(title, continued="ts" in state)  # an earlier message holds its start
        if state.get("unsure") == "1":
            return self._as_lines(job, "an earlier start's outcome is unknown")
        try:
            with self.records.under_way(job.id):
                answer = call(
                    self.client.chat_startStream,
                    budget=self.budget,
                    channel=job.channel_id,
                    thread_ts=job.thread_ts,
                    recipient_user_id=job.requested_by,
                    recipient_team_id=job.team_id,
                    task_display_mode="plan",
                    chunks=[heading, *shown],
                )
        except (SlackApiError, NotifyLater) as exc:
            if isinstance(exc, NotifyLater) and exc.uncertain:
                raise  # a stream may have started: the next try shows no second one
            why = error_code(exc) if isinstance(exc, SlackApiError) else "no budget to start one"
            return self._as_lines(job, why)
        cards_now = {c["id"]: c for c in shown}
        self._save(
            job.id,
            ts=str(answer["ts"]),
            opened=time.time(),
            cards=cards_now,
            past=state["past"],
            unsure=0,
        )
        return True

    def _as_lines(self, job: Job, why: str) -> bool:
        log.info("plan not streamed (%s): progress as lines", why, extra={"job_id": job.id})
        self._save(job.id, off=1)
        return False

    def _move_on(self, job: Job, state: JSON, cards: list[JSON], title: str) -> bool:
        """End this message with a line that the plan continues, then a fresh one with the
        steps still under way (and any new), before Slack closes this one."""
        try:
            self._stop(job, state, [continued_below()])
        except SlackApiError as exc:
            if error_code(exc) != CLOSED:
                raise
        return self._open(job, _retired(state), cards, title)

    def _append(self, job: Job, state: JSON, changed: list[JSON]) -> None:
        call(
            self.client.chat_appendStream,
            budget=self.budget,
            channel=job.channel_id,
            ts=str(state["ts"]),
            chunks=changed,
        )
        self._save(job.id, cards={**state["cards"], **{c["id"]: c for c in changed}})

    def _stop(self, job: Job, state: JSON, chunks: list[JSON]) -> None:
        call(
            self.client.chat_stopStream,
            budget=self.budget,
            channel=job.channel_id,
            ts=str(state["ts"]),
            chunks=chunks or None,
        )

    def _give_up(self, job: Job, code: str) -> None:
        log.info("plan not shown (%s); progress as lines", code, extra={"job_id": job.id})
        self._save(job.id, off=1)

    # -- the record in Redis --------------------------------------------------------------

    def _state(self, job_id: str) -> JSON:
        state = self.records.read(job_id)
        state["cards"] = json.loads(state.get("cards") or "{}")
        state["past"] = json.loads(state.get("past") or "[]")
        return state

    def _save(self, job_id: str, **fields: Any) -> None:
        stored = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in fields.items()}
        self.records.save(job_id, **stored)


def _differs(card: JSON, state: JSON) -> bool:
    return bool(state["cards"].get(card["id"]) != card)


def _retired(state: JSON) -> JSON:
    """The record once its message is left behind: the cards it showed complete stay
    there; those still under way go on in the next message."""
    done = [k for k, c in state["cards"].items() if c["status"] == COMPLETE]
    return {**state, "past": [*state["past"], *done][-200:], "cards": {}}


def _settled(card: JSON, status: str, job: Job) -> JSON:
    """A card as the job ended: done, or in error when it stopped short; the answer's
    card (the one with an output) says how long the answer came out."""
    if card["status"] == COMPLETE:
        return card
    if status == COMPLETE and "output" in card:
        return {**card, "status": status, "output": f"{len(job.output_text or ''):,} characters"}
    return {**card, "status": status}
