"""Webhook deliveries that overtake the create call's answer.

A quick response can finish, and its webhook arrive, before the worker has stored
the response ID: the route then finds no job for it. The delivery is remembered
for a while, and the start makes the job's check due as soon as the ID is stored,
instead of leaving the result to the slow safety-net poll.
"""

from __future__ import annotations

import logging

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY = "errand:webhook:early:{response_id}"
REMEMBER_FOR = 600


def remember(redis: Redis, response_id: str) -> None:
    """A delivery for a response no active job knows (yet): keep it for the start."""
    try:
        redis.set(KEY.format(response_id=response_id), "1", ex=REMEMBER_FOR)
    except RedisError:
        log.warning("early webhook not remembered", extra={"response_id": response_id})


def arrived(redis: Redis, response_id: str) -> bool:
    """Whether a delivery came before this response ID was stored (asked once)."""
    try:
        return bool(redis.delete(KEY.format(response_id=response_id)))
    except RedisError:
        return False
