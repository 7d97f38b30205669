"""`errand costs`: what jobs cost, by requester, channel or kind, as a table or JSON."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from errand.operator_db import operator_parts
from models.settings import Settings
from models.store.costs import GROUPS, costs_by

DEFAULT_DAYS = 30


def since_date(text: str) -> datetime:
    """`--since 2026-11-01`: midnight UTC of that day (argparse calls it; a bad date is
    its usage error, not a traceback)."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date like 2026-11-01: {text!r}") from None
    return day.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", choices=sorted(GROUPS), default="user")
    parser.add_argument(
        "--since", type=since_date, help=f"YYYY-MM-DD (UTC); default {DEFAULT_DAYS} days ago"
    )
    parser.add_argument("--json", action="store_true")


def costs(args: argparse.Namespace, settings: Settings) -> int:
    since = args.since or datetime.now(UTC) - timedelta(days=DEFAULT_DAYS)
    lines = costs_by(operator_parts(settings).db, args.by, since)
    if args.json:
        print(json.dumps([asdict(line) for line in lines], indent=2))
        return 0
    width = max([len(args.by), *(len(line.key) for line in lines)])
    print(f"{args.by.upper():<{width}}  {'JOBS':>6}  {'COST_USD':>10}")
    for line in lines:
        print(f"{line.key:<{width}}  {line.jobs:>6}  {line.cost_usd:>10.4f}")
    total = sum(line.cost_usd for line in lines)
    print(f"{'total':<{width}}  {sum(line.jobs for line in lines):>6}  {total:>10.4f}")
    return 0
