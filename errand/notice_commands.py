"""`errand notices`: the Slack news Errand has not delivered (the notice outbox), pending
or given up, so an operator can see what a channel or a person never heard and why."""

from __future__ import annotations

import argparse
import json
from typing import Any

from errand.operator_db import operator_parts
from models.job import Notice
from models.settings import Settings
from models.store import queries


def notices(args: argparse.Namespace, settings: Settings) -> int:
    rows = queries.notices(
        operator_parts(settings).db, given_up_only=args.undeliverable, limit=args.limit
    )
    if args.json:
        print(json.dumps([_shown(notice) for notice in rows], indent=2, default=str))
        return 0
    print(f"{'JOB':<8}  {'MILESTONE':<18} {'TRIES':>5}  {'GIVEN UP':<16}  LAST ERROR")
    for notice in rows:
        given_up = f"{notice.given_up_at:%Y-%m-%d %H:%M}" if notice.given_up_at else "-"
        print(
            f"{notice.job_id:<8}  {notice.milestone:<18} {notice.tries:>5}  {given_up:<16}  "
            f"{notice.last_error or '-'}"
        )
    return 0


def _shown(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "job_id": notice.job_id,
        "milestone": notice.milestone,
        "tries": notice.tries,
        "last_error": notice.last_error,
        "created_at": notice.created_at,
        "next_try_at": notice.next_try_at,
        "given_up_at": notice.given_up_at,
    }
