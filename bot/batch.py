"""`/batch`: the command opens a modal; its submission downloads the file, reads its rows
and stores the job, inside Slack's three seconds for a view_submission when it can.

Only the answer to the submission can put a sentence under the file input, and Slack waits
three seconds for it. So the file is read on a thread of its own while the answer waits up
to WINDOW for it: a bad file gets its sentence under the file and no job; a good one closes
the modal with its job stored, and the requester gets a line saying so. A file that takes
longer (a large one, a slow Slack) turns the modal into a wait; the thread carries on and
updates the modal with the outcome (the started job, or the form again with what was
wrong) and says it in a message as well, in case the person closed the modal. The job's
idempotency key is the view's ID, so a submission delivered twice (a retry, a balancer)
makes one job.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Late
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.blocks.batch_modal import (
    FILETYPES,
    NAME_MAX,
    PROBLEM_MAX,
    batch_modal,
    reading_modal,
    started_line,
    started_modal,
)
from bot.blocks.text import fit
from bot.context import BotContext
from bot.download import MAX_BYTES, download, too_big
from bot.failures import explain
from bot.ids import BlockId, Command
from bot.metrics import JOBS_STARTED
from bot.slack import call
from models.errors import InputRejected
from models.job import Job
from models.kinds import Kind
from models.notifier import NotifyLater
from models.rows import MAX_ROWS, Rows, parse_rows
from models.store.submission import submit_batch, validate_batch

log = logging.getLogger(__name__)

WINDOW = 2.0  # of Slack's 3 s for the answer; the rest is its round trip
DOWNLOAD_SECONDS = 60.0  # a slow download past the window still ends, with a sentence
INTAKE_THREADS = 4

Body = dict[str, Any]


@dataclass(frozen=True)
class Submission:
    """What a submitted /batch modal carries."""

    user: str
    team: str | None
    view_id: str
    channel: str | None
    response_url: str | None
    instructions: str
    file: Body | None

    @property
    def filename(self) -> str:
        return str((self.file or {}).get("name") or "the file")

    @property
    def key(self) -> str:
        """One job per view, whoever delivers its submission twice."""
        return f"slack:view:{self.team}:{self.view_id}"[:128]


@dataclass(frozen=True)
class Outcome:
    """A stored job with its row count, or the sentence refusing the submission."""

    job: Job | None = None
    rows: int = 0
    refusal: str = ""
    block: str = BlockId.BATCH_FILE.value


NOT_SET_UP = Outcome(refusal="/batch is not set up in this Errand.")


class Batches:
    """The /batch command and its modal; a few threads read files past the ack."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx
        self.pool = ThreadPoolExecutor(INTAKE_THREADS, thread_name_prefix="batch-intake")

    def _kind(self) -> Kind | None:
        return self.ctx.kinds.by_command(Command.BATCH.value)

    # -- the command --------------------------------------------------------------------

    def command(self, ack: Ack) -> None:
        """Answered at once; the modal opens lazily (the trigger lasts three seconds)."""
        if self._kind() is None:
            ack(response_type="ephemeral", text=NOT_SET_UP.refusal)
            return
        ack()

    def open_modal(self, command: Body, client: WebClient, respond: Respond) -> None:
        """The form, prefilled with the command's text; where to answer rides along. Bolt
        passes `respond` for `answering`, which tells the person if the modal cannot open."""
        if self._kind() is None:
            return
        meta = {"channel": command.get("channel_id"), "response_url": command.get("response_url")}
        view = self._form(json.dumps(meta), command.get("text") or "")
        call(client.views_open, trigger_id=command["trigger_id"], view=view)

    def _form(self, metadata: str, instructions: str, problem: str | None = None) -> Body:
        kind = self._kind()
        limit = kind.max_input_chars if kind else 3_000
        return batch_modal(
            metadata, instructions=instructions, max_chars=limit, max_rows=MAX_ROWS, problem=problem
        )

    # -- the submission -----------------------------------------------------------------

    def submitted(self, ack: Ack, body: Body, view: Body, client: WebClient) -> None:
        """Errors under the file (no job), a closed modal (the job stored), or the wait."""
        sub = read_submission(body, view)
        kind = self._kind()
        if kind is None:
            _refuse(ack, NOT_SET_UP)
            return
        early = refusal_before_reading(sub, kind)
        if early is not None:
            _refuse(ack, early)
            return
        claim = threading.Lock()  # whoever takes it first answers the person
        future = self.pool.submit(self._intake_or_late, sub, kind, client, claim)
        try:
            outcome = future.result(timeout=WINDOW)
        except Late:
            if claim.acquire(blocking=False):
                ack(response_action="update", view=reading_modal(sub.filename))
                return
            outcome = future.result()  # it finished as the window closed
        if outcome.job is None:
            _refuse(ack, outcome)
            return
        ack()
        self.pool.submit(self._tell, sub, client, self._started(sub, outcome))

    def _intake_or_late(
        self, sub: Submission, kind: Kind, client: WebClient, claim: threading.Lock
    ) -> Outcome:
        outcome = self._intake(sub, kind, client)
        if not claim.acquire(blocking=False):  # the modal already shows the wait
            self._late(sub, client, outcome)
        return outcome

    def _intake(self, sub: Submission, kind: Kind, client: WebClient) -> Outcome:
        """Download, read, store; every failure becomes the sentence for the person."""
        try:
            data = download(
                sub.file or {}, client.token or "", client.base_url, timeout=DOWNLOAD_SECONDS
            )
            rows = parse_rows(data, sub.filename)
            job = self._store(sub, kind, rows)
        except InputRejected as refused:
            return Outcome(refusal=str(refused))
        except Exception as error:  # the database away, a bug: said, with a reference
            return Outcome(refusal=explain(error))
        return Outcome(job=job, rows=len(rows))

    def _store(self, sub: Submission, kind: Kind, rows: Rows) -> Job:
        job = submit_batch(
            self.ctx.db,
            self.ctx.kinds,
            kind.name,
            sub.instructions,
            rows,
            user=sub.user,
            channel=sub.channel,
            team=sub.team,
            response_url=sub.response_url,
            idempotency_key=sub.key,
            filename=sub.filename,
        )
        JOBS_STARTED.labels(kind.name).inc()
        log.info("batch job stored", extra={"job_id": job.id, "rows": len(rows)})
        return job

    def _late(self, sub: Submission, client: WebClient, outcome: Outcome) -> None:
        """The outcome in the modal showing the wait, and in a message too: the person may
        have closed the modal, and Slack does not say so unless asked."""
        if outcome.job is not None:
            view = started_modal(outcome.job.id, outcome.rows, sub.filename, sub.channel)
            text = self._started(sub, outcome)
        else:
            meta = json.dumps({"channel": sub.channel, "response_url": sub.response_url})
            view = self._form(meta, sub.instructions, outcome.refusal)
            said = f"{fit(sub.filename, NAME_MAX)}: {fit(outcome.refusal, PROBLEM_MAX)}"
            text = f":warning: Errand could not run {said}"
        try:
            call(client.views_update, view_id=sub.view_id, view=view)
        except (SlackApiError, NotifyLater):  # closed, or Slack away: the message says it
            log.info("batch modal not updated", extra={"view_id": sub.view_id})
        self._tell(sub, client, text)

    @staticmethod
    def _started(sub: Submission, outcome: Outcome) -> str:
        job_id = outcome.job.id if outcome.job else ""
        return started_line(job_id, outcome.rows, sub.filename, sub.channel)

    def _tell(self, sub: Submission, client: WebClient, text: str) -> None:
        """An ephemeral line where /batch was typed, else a DM; a failure is only logged."""
        try:
            if sub.response_url and _respond(sub.response_url, text):
                return
            opened = call(client.conversations_open, users=sub.user)
            call(client.chat_postMessage, channel=opened["channel"]["id"], text=text)
        except Exception:
            log.warning("could not tell %s about their batch", sub.user, exc_info=True)


def _refuse(ack: Ack, outcome: Outcome) -> None:
    """The sentence under its input; the modal stays open with what was typed."""
    ack(response_action="errors", errors={outcome.block: outcome.refusal})


def _respond(url: str, text: str) -> bool:
    answer = WebhookClient(url, timeout=10).send(
        text=text, response_type="ephemeral", replace_original=False
    )
    return answer.status_code == 200


def read_submission(body: Body, view: Body) -> Submission:
    values = (view.get("state") or {}).get("values") or {}
    picked = (values.get(BlockId.BATCH_FILE.value) or {}).get(BlockId.BATCH_FILE_INPUT.value)
    typed = (values.get(BlockId.BATCH_INSTRUCTIONS.value) or {}).get(
        BlockId.BATCH_INSTRUCTIONS_INPUT.value
    )
    files = (picked or {}).get("files") or []
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    return Submission(
        user=body["user"]["id"],
        team=(body.get("team") or {}).get("id") or body["user"].get("team_id"),
        view_id=str(view["id"]),
        channel=meta.get("channel"),
        response_url=meta.get("response_url"),
        instructions=str((typed or {}).get("value") or ""),
        file=files[0] if files else None,
    )


def refusal_before_reading(sub: Submission, kind: Kind) -> Outcome | None:
    """What can be refused without the file's bytes: no file, the wrong type, too big, or
    instructions the job would refuse (those under the instructions)."""
    if sub.file is None:
        return Outcome(refusal="Choose a file of rows: a CSV with a header row, or JSON Lines.")
    extension = sub.filename.rsplit(".", 1)[-1].lower() if "." in sub.filename else ""
    if extension not in FILETYPES:
        return Outcome(refusal="That is not a CSV or JSON Lines file (.csv, .txt, .jsonl).")
    if int(sub.file.get("size") or 0) > MAX_BYTES:
        return Outcome(refusal=str(too_big(int(sub.file["size"]))))
    try:
        validate_batch(kind, sub.instructions, Rows([], []))
    except InputRejected as refused:
        return Outcome(refusal=str(refused), block=BlockId.BATCH_INSTRUCTIONS.value)
    return None
