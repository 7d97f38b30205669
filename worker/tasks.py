"""RQ entry points. Each takes IDs only and rebuilds what it needs from the database."""

from __future__ import annotations

from errand.runtime import current
from worker import stop, stream


def stop_job(job_id: str) -> str:
    """Cancel or expire a job at the provider."""
    return stop.stop(current(), job_id)


def stream_job(job_id: str) -> str:
    """Read a streaming job's events on a thread of this worker (see worker.stream)."""
    return stream.stream_job(current(), job_id)
