"""`errand bot`: the Slack bot alone, over HTTP or Socket Mode."""

from __future__ import annotations

import argparse

from bot.serve import run_bot
from errand.exposition import Exposition
from errand.parts import connect, refuse_unfit_kinds
from errand.wiring import bot_context
from models.settings import Settings


def bot(args: argparse.Namespace, settings: Settings) -> int:
    """The Slack bot alone: HTTP on --port, or Socket Mode when SLACK_APP_TOKEN is set."""
    # Slack gives up on an ack after 3 s: a database that hangs must fail first, so the
    # person is told nothing started instead of seeing Slack's timeout. 0 turns the
    # bound off (a PgBouncer that refuses the `options` startup parameter).
    parts = connect(settings, db_wait=settings.bot_db_timeout or None)
    refuse_unfit_kinds(settings, parts.kinds)
    exposition = Exposition(parts.db, parts.redis, parts.kinds)
    run_bot(
        bot_context(parts),
        port=args.port,
        host=args.host,
        exposition=exposition.render,
        metrics_port=settings.metrics_port,
    )
    return 0
