"""`errand jobs ...`: operate jobs without Slack, as a script or an operator would, under
the same rules as the buttons."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from errand.operator_db import operator_parts
from errand.parts import Parts
from models.errors import InputRejected
from models.export import job_detail, job_summary
from models.rows import Rows, parse_rows
from models.settings import Settings
from models.store import actions, queries, stops
from models.store.submission import submit, submit_batch
from models.store.turns import turns_of

SHOWN = (
    "id",
    "kind",
    "status",
    "requested_by",
    "attempts",
    "turns",
    "provider_response_id",
    "error",
    "cost_usd",
    "created_at",
    "finished_at",
)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def jobs_submit(args: argparse.Namespace, settings: Settings) -> int:
    rows = _rows(args.file) if args.file else None  # a bad file is refused before anything
    parts = operator_parts(settings)
    where = {"user": args.user, "channel": args.channel}
    if rows is None:
        job = submit(parts.db, parts.kinds, args.kind, args.text, **where)
    else:
        name = Path(args.file).name
        kinds = parts.kinds
        job = submit_batch(parts.db, kinds, args.kind, args.text, rows, **where, filename=name)
    if args.json:
        _print_json(job_summary(queries.get_job(parts.db, job.id)))
    else:
        print(job.id)
    return 0


def _rows(path: str) -> Rows:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputRejected(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_rows(data, Path(path).name)


def jobs_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = queries.recent(operator_parts(settings).db, status=args.status, limit=args.limit)
    if args.json:
        _print_json([job_summary(job) for job in rows])
        return 0
    print(f"{'ID':<8}  {'STATUS':<17} {'KIND':<9} {'REQUESTED BY':<12} {'CREATED':<16}  INPUT")
    for job in rows:
        print(
            f"{job.id:<8}  {job.status:<17} {job.kind:<9} {job.requested_by:<12} "
            f"{job.created_at:%Y-%m-%d %H:%M}  {job.input_text[:60]}"
        )
    return 0


def jobs_show(args: argparse.Namespace, settings: Settings) -> int:
    db = operator_parts(settings).db
    job = queries.get_job(db, args.id)
    detail = job_detail(job, queries.history(db, job.id), turns_of(db, job.id))
    if args.json:
        _print_json(detail)
        return 0
    for key in SHOWN:
        print(f"{key:>21}: {detail[key]}")
    for event in detail["events"]:
        change = (
            f"{event['from_status'] or ''} -> {event['to_status']}" if event["to_status"] else ""
        )
        print(
            f"  {event['at']}  {event['actor']:<12} {event['action']:<16} {change}  "
            f"{event['detail'] or ''}"
        )
    turns = detail["turn_history"]
    for turn in turns if len(turns) > 1 else []:  # a job with follow-ups lists its turns
        print(
            f"  turn {turn['number']}: {turn['actor']:<12} {turn['status'] or 'running':<12} "
            f"{turn['response_id'] or '-'}  {turn['cost_usd'] or 0:.4f} USD  {turn['input'][:60]}"
        )
    for said in detail["feedback"]:  # 👍/👎 on the result, with a 👎's comment
        comment = f": {said['comment']}" if said["comment"] else ""
        print(f"  feedback: {said['value']} by {said['actor']} at {said['at']}{comment}")
    if job.output_text:
        print("\n" + job.output_text)
    return 0


def jobs_cancel(args: argparse.Namespace, settings: Settings) -> int:
    parts: Parts = operator_parts(settings)
    outcome = stops.request_cancel(parts.db, parts.dispatch, args.id, actor=f"cli:{args.user}")
    print(f"errand: {outcome}")
    return 0


def jobs_retry(args: argparse.Namespace, settings: Settings) -> int:
    parts = operator_parts(settings)
    job = actions.request_retry(parts.db, parts.kinds, args.id, actor=f"cli:{args.user}")
    print(f"errand: job {job.id} queued as attempt {job.attempts}")
    return 0
