"""Errand's RQ queues, in the order a worker takes work from them."""

from __future__ import annotations

from enum import StrEnum


class QueueName(StrEnum):
    """A worker listens to all of them, first to last."""

    CONTROL = "errand-control"  # people's actions and webhooks: cancel, finish
    STREAM = "errand-stream"  # live streams (kind.stream): each holds a stream slot of a worker


ALL_QUEUES = [q.value for q in QueueName]
