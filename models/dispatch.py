"""The seam through which the job service hands per-job work to the workers.

The core knows no RQ: the worker's RQ dispatcher implements `Dispatch`, and the top
floor gives it to whoever records requests (the bot, the CLI, the worker itself).
"""

from __future__ import annotations

from typing import Protocol


class Dispatch(Protocol):
    """Work that runs on a worker after the request that asked for it has committed."""

    def stop(self, job_id: str) -> None:
        """Cancel or expire the job's response at the provider."""
