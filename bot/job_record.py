"""What one of a job's Slack messages shows (its answer stream, its plan), kept in Redis.

A hash per job, kept a day past its last change. It is the bot's note of a display, not
the job's truth: losing it costs at most a fresh message, never a job or its result.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from redis import Redis
from slack_sdk.errors import SlackApiError

from models.notifier import NotifyLater

KEEP_FOR = 86_400  # seconds a record outlives its last change


class JobRecords:
    """The records under `key` (a pattern with `{job_id}`)."""

    def __init__(self, redis: Redis, key: str) -> None:
        self.redis = redis
        self.key = key

    def read(self, job_id: str) -> dict[str, Any]:
        raw = self.redis.hgetall(self.key.format(job_id=job_id))
        return {_text(k): _text(v) for k, v in dict(raw).items()}

    def save(self, job_id: str, **fields: Any) -> None:
        """The fields, and a day more to live, in one round trip (an append saves twice)."""
        key = self.key.format(job_id=job_id)
        with self.redis.pipeline() as pipe:
            pipe.hset(key, mapping=cast(dict[Any, Any], fields))
            pipe.expire(key, KEEP_FOR)
            pipe.execute()

    def forget(self, job_id: str) -> None:
        self.redis.delete(self.key.format(job_id=job_id))

    @contextmanager
    def under_way(self, job_id: str) -> Iterator[None]:
        """`unsure` is set while a call that adds to the thread is under way, and cleared
        when Slack refused it or it was held back; the caller clears it on success. Left
        set (a timeout, a worker killed mid-call), it tells the next notice that the
        thread may hold what that call sent."""
        self.save(job_id, unsure=1)
        try:
            yield
        except NotifyLater as later:
            if not later.uncertain:
                self.save(job_id, unsure=0)
            raise
        except SlackApiError:
            self.save(job_id, unsure=0)
            raise


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
