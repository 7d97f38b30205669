"""`errand purge [--dry-run]`: apply the retention policy now (workers also do it daily)."""

from __future__ import annotations

import argparse

from errand.operator_db import operator_parts
from models.retention import Policy, described, purge_due
from models.settings import Settings

SHOWN = 20  # job IDs listed; the count covers the rest


def purge(args: argparse.Namespace, settings: Settings) -> int:
    parts = operator_parts(settings)
    policy = Policy.of(parts.settings, parts.kinds)
    if policy.keeps_everything:
        print(
            "No retention policy: set ERRAND_RETENTION_DAYS (or a kind's retention_days) to "
            "purge inputs and outputs after jobs end. Nothing purged."
        )
        return 0
    report = purge_due(parts.db, policy, dry_run=args.dry_run)
    verb = "Would purge" if report.dry_run else "Purged"
    print(f"{verb} the input and output of {len(report.job_ids)} jobs ({described(policy)}).")
    if report.job_ids:
        more = len(report.job_ids) - SHOWN
        print("  " + " ".join(report.job_ids[:SHOWN]) + (f" and {more} more" if more > 0 else ""))
    if policy.archive is not None and report.job_ids:
        print(f"{'Archive' if report.dry_run else 'Archived'} to {policy.archive}.")
    return 0
