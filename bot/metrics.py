"""The bot's counters; every metric is defined in `errand.metrics`."""

from __future__ import annotations

from errand.metrics import ERRORS, JOBS_STARTED, PRESSES, REQUESTS

__all__ = ["ERRORS", "JOBS_STARTED", "PRESSES", "REQUESTS"]
