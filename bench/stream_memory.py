"""What an open response stream costs a worker: memory (PSS) and CPU per stream.

Prints figures, never pass/fail:
    .venv/bin/python -m bench.stream_memory --streams 2000
Starts the provider stand-in, creates N background responses that run for `--seconds`,
then reads all of their event streams at once on one asyncio loop through the client the
worker's stream reader uses (`Provider.stream_client`), in this process, and reads this
process's PSS (/proc/self/smaps_rollup) before and with every stream open.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import openai

from bench.common import Sampler, cpu_seconds, machine, start_openai, stop
from worker.openai_client import make_openai_client
from worker.provider import Provider


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=90.0, help="how long each response runs")
    args = parser.parse_args()
    print(json.dumps(run(args), indent=2))


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="errand-bench-streams-"))
    server, url = start_openai(work)
    try:
        httpx.post(
            url + "/_sandbox/config",
            json={"duration_min": args.seconds, "duration_max": args.seconds, "queue_seconds": 1},
        ).raise_for_status()
        client = make_openai_client("sk-bench", max_connections=64)
        client = client.with_options(base_url=url + "/v1")
        ids = [_create(client, n) for n in range(args.streams)]
        return asyncio.run(_read_all(Provider(client), ids, args))
    finally:
        stop(server)


def _create(client: openai.OpenAI, n: int) -> str:
    made: Any = client.responses.create(
        model="gpt-5-mini", input=f"Stream {n}", background=True, store=True, stream=True
    )
    with made:
        for event in made:
            return str(event.response.id)
    raise SystemExit("bench: a create's stream ended before its first event")


async def _read_all(provider: Provider, ids: list[str], args: argparse.Namespace) -> dict[str, Any]:
    me = Sampler(os.getpid())
    before = me.pss_mb()
    client = provider.stream_client(len(ids))
    counts = {"open": 0, "events": 0}
    tasks = [asyncio.create_task(_read(client, i, counts)) for i in ids]
    cpu0, began = cpu_seconds(me.pid), time.monotonic()
    while counts["open"] < len(ids) and time.monotonic() - began < 120:
        await asyncio.sleep(0.5)
    await asyncio.sleep(5)
    with_all = me.pss_mb()
    cpu1, t1, e1 = cpu_seconds(me.pid), time.monotonic(), counts["events"]
    await asyncio.sleep(10)
    cpu_per_s = (cpu_seconds(me.pid) - cpu1) / (time.monotonic() - t1)
    events_per_s = (counts["events"] - e1) / (time.monotonic() - t1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "streams": len(ids),
        "streams_open": counts["open"],
        "pss_mb_before": round(before, 1),
        "pss_mb_with_all_open": round(with_all, 1),
        "pss_kb_per_stream": round((with_all - before) * 1024 / len(ids), 1),
        "open_all_s": round(t1 - began, 1),
        "cpu_s_opening": round(cpu1 - cpu0, 1),
        "events_per_s": round(events_per_s),
        "cpu_pct_of_one_core_reading": round(100 * cpu_per_s, 1),
        "machine": machine(),
    }


async def _read(client: openai.AsyncOpenAI, response_id: str, counts: dict[str, int]) -> None:
    stream: Any = await client.responses.retrieve(response_id, stream=True)
    counts["open"] += 1
    async with stream:
        async for _ in stream:
            counts["events"] += 1


if __name__ == "__main__":
    main()
