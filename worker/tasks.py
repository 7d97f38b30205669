"""RQ entry points. Each takes IDs only; the worker that runs it hands it the context.

RQ passes a task only what it can store in Redis. The worker process (`ErrandWorker`)
sets the context for the duration of each task, as RQ sets the current job, so a task
never builds its own database or provider from the environment.
"""

from __future__ import annotations

from contextvars import ContextVar

from worker import stop
from worker.context import Context

CONTEXT: ContextVar[Context] = ContextVar("errand_worker_context")


def stop_job(job_id: str) -> str:
    """Cancel or expire a job at the provider."""
    return stop.stop(CONTEXT.get(), job_id)
