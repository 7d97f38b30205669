"""Zero data retention (ERRAND_ZDR=1): no request asks the provider to keep anything
(no `background`, `store=false` on every create), each job is a stream its worker holds,
a worker killed mid-response leaves the job to start again and finish on another, a
cancel closes the stream, and kinds that need stored data are refused at start-up."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.answer import WRITTEN_AGAIN
from bot.blocks.text import escape
from models.job import Attempt, Notice
from models.store.stops import request_cancel
from models.store.submission import submit
from tests.support.ledger import creates
from tests.support.procs import ROOT, wait_for
from tests.support.slack import BotProcess, job_id_of, thread_texts
from tests.support.stack import Stack

PG = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def zdr(stack: Stack) -> Stack:
    """The stack in zero data retention mode; ask for it before `bot`, which reads it.
    A claim lapses 10 s after its worker's last renewal (each second), so a killed
    worker's job restarts within seconds, and a worker slowed by a busy machine keeps it."""
    stack.env.update({"ERRAND_ZDR": "1", "ERRAND_START_LEASE": "10"})
    return stack


def _held(stack: Stack, job_id: str) -> bool:
    """The job's current attempt has a response and a worker holding its stream."""
    with stack.db.unit() as unit:
        row = unit.session.execute(
            select(Attempt.response_id, Attempt.claim_token, Attempt.stream_cursor)
            .where(Attempt.job_id == job_id)
            .order_by(Attempt.number.desc())
        ).first()
    return row is not None and bool(row.response_id and row.claim_token and row.stream_cursor)


def _assert_nothing_kept(stack: Stack, sent: list[dict[str, Any]]) -> None:
    """Every create asked for a stream and no storage; nothing was read back or cancelled."""
    assert sent
    assert {(r["background"], r["store"], r["stream"]) for r in sent} == {(None, False, True)}
    assert stack.openai.requests(background=True) == []
    assert stack.openai.requests(store=True) == []
    assert stack.openai.requests(method="GET") == []  # no retrieve: nothing to retrieve
    assert stack.openai.requests(endpoint="cancel") == []


@SQLITE
def test_jobs_complete_and_no_request_asks_the_provider_to_keep_them(zdr: Stack) -> None:
    ids = [
        submit(zdr.db, zdr.kinds, "research", f"Question {n} [sandbox: duration=2]", user="U").id
        for n in range(3)
    ]
    draft = submit(zdr.db, zdr.kinds, "draft", "A memo [sandbox: duration=2]", user="U").id
    zdr.start_worker()
    zdr.wait_settled([*ids, draft], timeout=60)
    assert {zdr.status(j) for j in ids} == {"completed"}
    assert zdr.status(draft) == "needs_review"
    for job_id in [*ids, draft]:
        shown = zdr.show(job_id)
        assert shown["output_text"] and shown["cost_usd"] > 0, shown
        assert shown["provider_creates"] == 1
        [response] = zdr.openai.responses_for(job_id)
        assert (response["status"], response["store"], response["background"]) == (
            "completed",
            False,
            False,
        )
    _assert_nothing_kept(zdr, zdr.openai.requests(endpoint="create"))
    # The web search tool is sent as configured; the provider runs it within the stream.
    assert {str(r["tools"]) for r in creates(zdr, ids[0])} == {"[{'type': 'web_search'}]"}


@PG
def test_a_worker_killed_mid_response_leaves_the_job_to_finish_on_another(
    zdr: Stack, bot: BotProcess
) -> None:
    first = zdr.start_worker()
    assert bot.command("/research", "Long one [sandbox: duration=12]").status_code == 200
    job_id = job_id_of(bot.slack.card("C_GENERAL"))
    wait_for(lambda: _held(zdr, job_id), 30, "the stream never got going")
    zdr.wait_status(job_id, "running")  # the provider has begun (held from its first event)
    first.kill()
    first.wait(timeout=10)
    zdr.start_worker()
    zdr.wait_status(job_id, "completed", timeout=90)
    shown = zdr.show(job_id)
    assert shown["output_text"] and shown["attempts"] == 1
    # Nothing at the provider to resume: the attempt was created again, and counted.
    assert shown["provider_creates"] == 2
    assert "restart" in [e["action"] for e in shown["events"]]
    sent = creates(zdr, job_id)
    assert [r["metadata"]["attempt"] for r in sent] == ["1", "1"]
    _assert_nothing_kept(zdr, sent)
    ledger = zdr.openai.job(job_id)
    assert ledger["orphans"] == [] and ledger["cancelled"] == 1  # the dead worker hung up
    wait_for(
        lambda: any(
            f"Result of job {job_id}" in t for t in thread_texts(bot.slack.card("C_GENERAL"))
        ),
        # A delivery the killed worker held is taken again once its claim (60 s) ends; a
        # post it had under way is first looked for in Slack, which allows that once a minute.
        150,
        "no result in the thread",
    )
    texts = thread_texts(bot.slack.card("C_GENERAL"))
    assert sum(f"Result of job {job_id}" in t for t in texts) == 1, texts
    with zdr.db.unit() as unit:
        started = unit.session.scalars(
            select(Notice.key).where(Notice.job_id == job_id, Notice.milestone == "started")
        ).all()
    assert len(started) == 1  # the thread was told once that the job started


@SQLITE
def test_a_stopping_worker_hands_its_streams_back_at_once(zdr: Stack) -> None:
    """A deploy's SIGTERM: the worker closes its streams and starts their attempts again
    on its way out, so another worker takes them without waiting for the claims to lapse."""
    zdr.env["ERRAND_START_LEASE"] = "600"
    leaving = zdr.start_worker()
    job_id = submit(zdr.db, zdr.kinds, "research", "Long [sandbox: duration=10]", user="U").id
    wait_for(lambda: _held(zdr, job_id), 30, "the stream never got going")
    leaving.send_signal(signal.SIGTERM)
    assert leaving.wait(timeout=30) == 0
    restarts = [e for e in zdr.show(job_id)["events"] if e["action"] == "restart"]
    assert len(restarts) == 1 and "its worker stopped" in restarts[0]["detail"]
    zdr.start_worker()
    zdr.wait_status(job_id, "completed", timeout=60)
    assert zdr.show(job_id)["provider_creates"] == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ask_streams_its_answer_into_the_thread(zdr: Stack, bot: BotProcess) -> None:
    zdr.start_worker()
    assert bot.command("/ask", "Why is the sky blue? [sandbox: duration=5]").status_code == 200
    job_id = job_id_of(bot.slack.card("C_GENERAL"))
    zdr.wait_status(job_id, "completed", timeout=40)
    shown = zdr.show(job_id)

    def stopped() -> list[dict[str, Any]]:
        found = bot.slack.streams(channel="C_GENERAL", thread_ts=shown["thread_ts"])
        return [s for s in found if s["state"] == "stopped"]

    wait_for(stopped, 30, "the answer's stream was never stopped")
    [stream] = stopped()
    assert [c["method"] for c in stream["calls"]].count("chat.appendStream") > 1
    assert stream["text"] == escape(shown["output_text"])
    _assert_nothing_kept(zdr, creates(zdr, job_id))


@PG
def test_an_ask_whose_worker_dies_says_so_and_posts_the_whole_answer(
    zdr: Stack, bot: BotProcess
) -> None:
    """The answer streaming into the thread cannot go on as it began (it is written again
    from the start): its stream is stopped with a line saying so, and the answer is
    posted in full when done."""
    first = zdr.start_worker()
    assert bot.command("/ask", "Explain tides [sandbox: duration=12]").status_code == 200
    job_id = job_id_of(bot.slack.card("C_GENERAL"))
    wait_for(lambda: bot.slack.streams(channel="C_GENERAL"), 30, "the answer never streamed")
    first.kill()
    first.wait(timeout=10)
    zdr.start_worker()
    zdr.wait_status(job_id, "completed", timeout=90)
    wait_for(
        lambda: any(f"Result of job {job_id}" in t for t in _texts(bot)),
        # A delivery the killed worker held is taken again once its claim (60 s) ends; a
        # post it had under way is first looked for in Slack, which allows that once a minute.
        150,
        "no result posted",
    )
    [stream] = bot.slack.streams(channel="C_GENERAL")
    assert stream["state"] == "stopped" and "interrupted" in stream["text"]
    assert sum(f"Result of job {job_id}" in t for t in _texts(bot)) == 1
    assert zdr.show(job_id)["provider_creates"] == 2


@SQLITE
def test_an_answer_interrupted_while_slack_is_down_says_so_once_slack_is_back(
    zdr: Stack, bot: BotProcess
) -> None:
    """Its worker dies, and Slack is down while the answer is written again: the line
    saying so is still owed once Slack is back, even though the job finished meanwhile.
    The stream never goes on with the new answer's words (`vary`: it words itself anew),
    and the result is posted whole."""
    first = zdr.start_worker()
    assert bot.command("/ask", "Explain tides [sandbox: duration=8 vary]").status_code == 200
    job_id = job_id_of(bot.slack.card("C_GENERAL"))
    wait_for(lambda: bot.slack.streams(channel="C_GENERAL"), 30, "the answer never streamed")
    first.kill()
    first.wait(timeout=10)
    bot.slack.fault(outage_seconds=15)
    [shown] = [s["text"] for s in bot.slack.streams(channel="C_GENERAL")]
    zdr.start_worker()
    zdr.wait_status(job_id, "completed", timeout=60)
    wait_for(lambda: _results(bot, job_id), 90, "no result posted")
    [stream] = bot.slack.streams(channel="C_GENERAL")
    assert stream["state"] == "stopped"
    assert stream["text"] == shown + WRITTEN_AGAIN  # the first take's words, then the line
    assert len(_results(bot, job_id)) == 1


def _results(bot: BotProcess, job_id: str) -> list[str]:
    return [t for t in _texts(bot) if f"Result of job {job_id}" in t]


def _texts(bot: BotProcess) -> list[str]:
    return thread_texts(bot.slack.card("C_GENERAL"))


@SQLITE
def test_cancel_closes_the_stream_and_the_job_ends_canceled(zdr: Stack) -> None:
    zdr.start_worker()
    job_id = submit(zdr.db, zdr.kinds, "research", "Slow [sandbox: duration=30]", user="U_F").id
    wait_for(lambda: _held(zdr, job_id), 30, "the stream never got going")
    assert request_cancel(zdr.db, zdr.parts.dispatch, job_id, actor="U_F") == "canceling"
    zdr.wait_status(job_id, "canceled", timeout=30)
    shown = zdr.show(job_id)
    cancels = [e for e in shown["events"] if e["to_status"] == "canceled"]
    assert [e["actor"] for e in cancels] == ["U_F"]
    # Hanging up on the stream ended the response there (seen at its next event).
    wait_for(
        lambda: [r["status"] for r in zdr.openai.responses_for(job_id)] == ["cancelled"],
        15,
        "the response ran on at the provider",
    )
    _assert_nothing_kept(zdr, creates(zdr, job_id))


@PG
def test_a_cancel_after_the_worker_died_ends_the_job_without_starting_it_again(
    zdr: Stack,
) -> None:
    first = zdr.start_worker()
    job_id = submit(zdr.db, zdr.kinds, "research", "Slow [sandbox: duration=30]", user="U_F").id
    wait_for(lambda: _held(zdr, job_id), 30, "the stream never got going")
    first.kill()
    first.wait(timeout=10)
    assert request_cancel(zdr.db, zdr.parts.dispatch, job_id, actor="U_F") == "canceling"
    zdr.start_worker()
    zdr.wait_status(job_id, "canceled", timeout=60)
    shown = zdr.show(job_id)
    assert shown["provider_creates"] == 1
    assert "restart" not in [e["action"] for e in shown["events"]]
    assert [e["actor"] for e in shown["events"] if e["to_status"] == "canceled"] == ["U_F"]


@SQLITE
def test_a_stream_broken_mid_answer_is_tried_again_as_the_kind_allows(zdr: Stack) -> None:
    zdr.openai.fault(endpoint="stream", drop_after=6)
    zdr.start_worker()
    job_id = submit(zdr.db, zdr.kinds, "research", "Flaky [sandbox: duration=3]", user="U").id
    zdr.wait_status(job_id, "completed", timeout=60)
    shown = zdr.show(job_id)
    assert shown["attempts"] == 2 and shown["output_text"]
    assert "auto_retry" in [e["action"] for e in shown["events"]]
    _assert_nothing_kept(zdr, creates(zdr, job_id))


def _with_batch_kind(stack: Stack) -> None:
    """ERRAND_CONFIG with a kind on the batch lane beside the packaged ones."""
    raw = yaml.safe_load((ROOT / "models" / "kinds.yaml").read_text())
    raw["kinds"]["bulk"] = {**raw["kinds"]["research"], "command": "/bulk", "lane": "batch"}
    path = Path(stack.logs) / "kinds-batch.yaml"
    path.write_text(yaml.safe_dump(raw))
    stack.env["ERRAND_CONFIG"] = str(path)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("command", [["worker"], ["bot"], ["run"]])
def test_a_batch_lane_kind_is_refused_at_start_up(zdr: Stack, command: list[str]) -> None:
    _with_batch_kind(zdr)
    done = zdr.cli(*command)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "ERRAND_ZDR=1" in lines[0] and "bulk" in lines[0] and "research" not in lines[0]
