"""Hands work to RQ after the database has committed it.

Redis only moves work: if an enqueue is lost (Redis down or flushed), the
recovery pulse finds the job in the database and enqueues it again.
"""

from __future__ import annotations

import logging
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job as RQJob
from rq.job import JobStatus as RQStatus

from worker.queues import QueueName

log = logging.getLogger(__name__)

WAITING = frozenset({RQStatus.QUEUED, RQStatus.SCHEDULED, RQStatus.DEFERRED})


class Dispatcher:
    """The one place that knows which task goes on which queue."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def queue(self, name: QueueName) -> Queue:
        return Queue(name.value, connection=self.redis)

    def stop(self, job_id: str) -> None:
        """Cancel or expire a job at the provider."""
        self._once(QueueName.CONTROL, "worker.tasks.stop_job", f"stop-{job_id}", job_id)

    def stream(self, job_id: str) -> None:
        """Open (or resume) the live stream of a job whose kind streams."""
        self._once(QueueName.STREAM, "worker.tasks.stream_job", f"stream-{job_id}", job_id)

    def is_waiting(self, rq_id: str) -> bool:
        """True when a task with this ID is already queued, so a re-drive would double it."""
        try:
            status = RQJob.fetch(rq_id, connection=self.redis).get_status(refresh=False)
        except Exception:
            return False
        return status in WAITING

    def _once(self, name: QueueName, func: str, rq_id: str, *args: Any) -> None:
        if self.is_waiting(rq_id):
            return
        try:
            self.queue(name).enqueue_call(
                func, args=args, job_id=rq_id, result_ttl=0, failure_ttl=3600, timeout=300
            )
        except RedisError as exc:
            log.warning(
                "enqueue failed; recovery will re-drive", extra={"rq_id": rq_id, "error": str(exc)}
            )
