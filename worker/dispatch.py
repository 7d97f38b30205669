"""Errand's RQ queue and the per-job tasks it carries, enqueued after the database has
committed the request they carry out.

Redis only moves work: a task Redis lost is enqueued again by the recover pulse, which
finds the request in the database. A task keeps one RQ ID per job (`stop-<job>`), and
`unique` makes a second enqueue a no-op while RQ still knows the first (queued, waiting
for a retry, running, or failed and kept for the operator to see).
"""

from __future__ import annotations

import logging

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError

log = logging.getLogger(__name__)

QUEUE = "errand-control"  # people's actions: cancel and expire at the provider
QUEUES = [QUEUE]
# A provider that refuses a cancel now may take it in a minute; after these RQ keeps
# the failure in its registry for FAILURE_TTL, and then the recover pulse tries again.
STOP_RETRY = Retry(max=5, interval=[2, 5, 15, 30, 60])
FAILURE_TTL = 600


class Dispatcher:
    """The one place that knows which task goes on which queue (`models.dispatch.Dispatch`)."""

    def __init__(self, redis: Redis) -> None:
        self.queue = Queue(QUEUE, connection=redis)

    def stop(self, job_id: str) -> None:
        """Cancel or expire a job at the provider."""
        try:
            self.queue.enqueue_call(
                "worker.tasks.stop_job",
                args=(job_id,),
                job_id=f"stop-{job_id}",
                unique=True,
                retry=STOP_RETRY,
                result_ttl=0,
                failure_ttl=FAILURE_TTL,
                timeout=300,
            )
        except DuplicateJobError:
            return
        except RedisError as exc:
            log.warning(
                "enqueue failed; recovery will re-drive",
                extra={"job_id": job_id, "error": str(exc)},
            )
