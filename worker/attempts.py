"""Attempts: one provider response each, keyed so a repeated create cannot double it."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from models.job import Attempt


def open_attempt(session: Session, job_id: str, number: int) -> Attempt:
    """Add attempt `number`; its idempotency key is fixed now, before any provider call."""
    attempt = Attempt(
        job_id=job_id,
        number=number,
        idempotency_key=attempt_key(job_id, number),
    )
    session.add(attempt)
    return attempt


def attempt_key(job_id: str, number: int) -> str:
    """The provider's Idempotency-Key for this attempt: a retried create finds the first."""
    return f"errand-{job_id}-{number}-{secrets.token_hex(6)}"
