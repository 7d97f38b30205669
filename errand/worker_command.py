"""`errand worker`: one worker process (its scheduler included), with its /metrics."""

from __future__ import annotations

import argparse

from errand.exposition import serve_metrics
from errand.parts import connect, refuse_unfit_kinds
from errand.wiring import worker_context
from models.settings import Settings
from worker.process import run_worker


def worker(args: argparse.Namespace, settings: Settings) -> int:
    parts = connect(settings)
    refuse_unfit_kinds(settings, parts.kinds)
    ctx = worker_context(parts)
    serve_metrics(settings.metrics_port)
    run_worker(ctx, burst=args.burst)
    return 0
