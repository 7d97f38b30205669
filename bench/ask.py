"""/ask: how soon the first words show in Slack, and how soon the answer is whole.

Prints figures, never pass/fail:
    .venv/bin/python -m bench.ask --questions 50 --concurrency 10 [--rate-limits off]
Runs a real bot and worker against both stand-ins, with its own PostgreSQL database
(ERRAND_BENCH_PG) and Redis DB (ERRAND_BENCH_REDIS). `concurrency` people each ask a
question signed as Slack signs slash commands, wait for its answer to finish streaming,
then ask the next. Per question:
* first visible: from the provider's first token (the stand-in says when its first text
  delta happens) to the first text Slack shows (`chat.startStream` or `appendStream`, or
  the post of the message that shows it where it is not streamed);
* to the end: from sending the command to `chat.stopStream` (or the message's last edit,
  or the post of the result).
The Slack stand-in enforces Slack's documented rate tiers unless `--rate-limits off`.
The questions are asked in one channel unless `--channels N` spreads them (person k asks
in channel k mod N): Slack posts about one message a second per channel, and each /ask
posts its status card there before any of its answer can show.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, select

from bench.common import (
    SLACK_SECRET,
    errand_env,
    fresh_stand_ins,
    machine,
    own_database,
    pct,
    start_bot,
    stop,
)
from bot.blocks.text import mrkdwn
from models.job import Job
from sandbox import slack_signing as signing
from sandbox.processes import spawn

CHANNEL = "C_GENERAL"  # the first channel; more are C_ASK1, C_ASK2, ...
WAIT = 90.0  # seconds one question may take before it counts as unfinished
LOOK_EVERY = 0.25  # how often a person's thread is read (times come from the stand-ins)


@dataclass(frozen=True)
class Run:
    """Where one run's processes listen."""

    bot_url: str
    openai_url: str
    slack_url: str
    engine: Engine
    channels: int


@dataclass(frozen=True)
class Timing:
    """One question's figures (None: it never got that far)."""

    first_visible: float | None
    to_end: float | None
    streamed: bool
    edited: bool = False  # not streamed: shown as one message edited as it grew


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--min", type=float, default=4.0, help="shortest answer (s)")
    parser.add_argument("--max", type=float, default=10.0, help="longest answer (s)")
    parser.add_argument("--rate-limits", default="documented", help="documented, off, or a factor")
    parser.add_argument("--channels", type=int, default=1, help="channels the people ask in")
    args = parser.parse_args()
    with own_database() as url:
        print(json.dumps(run(args, url), indent=2))


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    stand_ins = fresh_stand_ins(url, "ask", (args.min, args.max))
    httpx.post(
        stand_ins.slack_url + "/_sandbox/settings", json={"rate_limits": args.rate_limits}
    ).raise_for_status()
    for n in range(1, args.channels):
        channel = {"id": f"C_ASK{n}", "name": f"ask-{n}"}
        httpx.post(stand_ins.slack_url + "/_sandbox/channels", json=channel).raise_for_status()
    env = {**errand_env(url, stand_ins.openai_url, stand_ins.slack_url), "ERRAND_LOG_LEVEL": "INFO"}
    running: list[subprocess.Popen[bytes]] = [stand_ins.openai, stand_ins.slack]
    engine = create_engine(url, pool_size=args.concurrency + 2)
    try:
        bot, bot_url = start_bot(env, stand_ins.work)
        running.append(bot)
        running.append(spawn(["-m", "errand.cli", "worker"], env, stand_ins.work / "worker.log"))
        where = Run(bot_url, stand_ins.openai_url, stand_ins.slack_url, engine, args.channels)
        began = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as people:
            timings = list(people.map(lambda n: _ask(where, n), range(args.questions)))
        elapsed = time.monotonic() - began
    finally:
        stop(*running)
        engine.dispose()
    return _figures(args, timings, elapsed, str(stand_ins.work))


def _figures(
    args: argparse.Namespace, timings: list[Timing], elapsed: float, logs: str
) -> dict[str, Any]:
    first = [t.first_visible for t in timings if t.first_visible is not None]
    end = [t.to_end for t in timings if t.to_end is not None]
    return {
        "questions": args.questions,
        "concurrency": args.concurrency,
        "answer_seconds": [args.min, args.max],
        "slack_rate_limits": args.rate_limits,
        "channels": args.channels,
        "streamed": sum(t.streamed for t in timings),
        "shown_as_edited_message": sum(t.edited for t in timings),
        "finished": len(end),
        "first_visible_s_p50": pct(first, 0.5),
        "first_visible_s_p99": pct(first, 0.99),
        "first_visible_s_max": pct(first, 1.0),
        "to_end_s_p50": pct(end, 0.5),
        "to_end_s_p99": pct(end, 0.99),
        "to_end_s_max": pct(end, 1.0),
        "seconds": round(elapsed, 1),
        "logs": logs,
        "machine": machine(),
    }


def _ask(run: Run, n: int) -> Timing:
    """One person's question: send it, find its job, wait for its stream to stop."""
    question = f"Bench question {n}: why is the sky blue?"
    user, channel = f"U_BENCH{n % 10}", _channel(n % 10 % run.channels)
    sent = time.time()
    body = _command(run, question, user, channel)
    headers = signing.form_headers(body, SLACK_SECRET)
    answer = httpx.post(run.bot_url + "/slack/events", content=body, headers=headers, timeout=30)
    answer.raise_for_status()
    found = _job(run, question)
    if found is None:
        return Timing(None, None, False)
    job_id, thread_ts = found
    shown = _shown(run, job_id, channel, thread_ts)
    first_token = _first_token_at(run, job_id)
    if shown is None or first_token is None:
        return Timing(None, None, False)
    first, end, streamed = shown
    return Timing(first - first_token, end - sent, streamed, edited=not streamed)


def _channel(k: int) -> str:
    return CHANNEL if k == 0 else f"C_ASK{k}"


def _command(run: Run, question: str, user: str, channel: str) -> bytes:
    control = run.slack_url + "/_sandbox"
    response_url = httpx.post(
        control + "/response_urls", json={"channel_id": channel, "user_id": user}
    ).json()["response_url"]
    trigger = httpx.post(control + "/triggers", json={"user_id": user}).json()["trigger_id"]
    return signing.slash_command_body("/ask", question, user, channel, response_url, trigger)


def _job(run: Run, question: str) -> tuple[str, str] | None:
    """The question's job and its thread, once its card is posted."""
    deadline = time.monotonic() + WAIT
    with run.engine.connect() as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                select(Job.id, Job.thread_ts).where(Job.input_text == question)
            ).first()
            connection.rollback()
            if row is not None and row.thread_ts:
                return str(row.id), str(row.thread_ts)
            time.sleep(LOOK_EVERY)
    return None


def _shown(run: Run, job_id: str, channel: str, thread_ts: str) -> tuple[float, float, bool] | None:
    """(first words shown, whole answer shown, streamed) once the answer is whole."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = httpx.get(
            run.slack_url + "/_sandbox/streams",
            params={"channel": channel, "thread_ts": thread_ts},
        ).json()["streams"]
        ended = [s for s in found if s["state"] != "streaming"]
        if ended:
            shown = [c["at"] for c in ended[0]["calls"] if c.get("markdown_text")]
            return shown[0], ended[0]["ended"], True
        message = None if found else _whole_message(run, job_id, channel, thread_ts)
        if message is not None:
            return message[0], message[1], False
        time.sleep(LOOK_EVERY)
    return None


def _whole_message(
    run: Run, job_id: str, channel: str, thread_ts: str
) -> tuple[float, float] | None:
    """(posted, last edited) of the reply that ends with the whole answer, if one does."""
    with run.engine.connect() as connection:
        output = connection.execute(select(Job.output_text).where(Job.id == job_id)).scalar()
    if not output:
        return None
    ending = mrkdwn(output).rstrip()[-40:]
    messages = httpx.get(f"{run.slack_url}/_sandbox/channels/{channel}/messages").json()
    [card] = [m for m in messages["messages"] if m["ts"] == thread_ts]
    for reply in card.get("replies") or []:
        if any(ending in t for t in [str(reply.get("text")), *_sections(reply)]):
            edited = (reply.get("edited") or {}).get("ts") or reply["ts"]
            return float(reply["ts"]), float(edited)
    return None


def _sections(message: dict[str, Any]) -> list[str]:
    texts = [block.get("text") for block in message.get("blocks") or []]
    return [str(t.get("text") if isinstance(t, dict) else t) for t in texts]


def _first_token_at(run: Run, job_id: str) -> float | None:
    listing = httpx.get(run.openai_url + "/_sandbox/responses", params={"job_id": job_id})
    times = [r["first_token_at"] for r in listing.json()["data"] if r.get("first_token_at")]
    return min(times) if times else None


if __name__ == "__main__":
    main()
