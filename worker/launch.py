"""The launch pulse: start every queued attempt that is free to start, many at once.

Launching from the database rather than from one queued task per job keeps
the order in our hands (priority first, then age) and survives a flushed
Redis by construction: a queued job with no response is simply launched.
"""

from __future__ import annotations

from concurrent.futures import Executor
from datetime import timedelta

from sqlalchemy import and_, or_, select, update

from errand.runtime import Runtime
from models.base import utcnow
from models.db import is_sqlite
from models.job import Attempt, Job
from models.lifecycle import JobStatus, add_notice
from worker.provider import CreateRequest
from worker.start import Claimed, run_claimed

BATCH = 50  # launches claimed per tick: small, so a tick ends (and yields) in seconds

HELD = (
    "Waiting to start: the AI provider is failing right now. Errand will start this "
    "job by itself as soon as it recovers."
)


def launch_due(runtime: Runtime, executor: Executor, *, limit: int = BATCH) -> int:
    """Claim up to `limit` launches (fewer while the breaker holds) and run them concurrently."""
    allowed = runtime.breaker.launches_allowed(limit)
    if allowed < limit:
        hold_queued(runtime)
    if allowed == 0:
        return 0
    claimed = claim_launches(runtime, limit=allowed)
    return sum(
        1
        for outcome in executor.map(lambda c: run_claimed(runtime, c), claimed)
        if outcome == "started"
    )


def hold_queued(runtime: Runtime, *, batch: int = 200) -> int:
    """Tell waiting jobs why they wait (once each), and on-call once per outage."""
    trip = runtime.breaker.trip_id()
    if trip and runtime.redis.set(f"errand:breaker:alerted:{trip}", "1", nx=True, ex=86400):
        runtime.notifier.alert(
            "The AI provider is failing: Errand is holding new jobs and still following "
            "the ones in flight. It resumes by itself when provider calls succeed again."
        )
    with runtime.unit() as unit:
        ids = list(
            unit.session.scalars(
                select(Job.id)
                .where(
                    Job.status == JobStatus.QUEUED.value,
                    Job.stop_requested.is_(None),
                    Job.wait_reason.is_(None),
                )
                .limit(batch)
            )
        )
        if ids:
            unit.session.execute(update(Job).where(Job.id.in_(ids)).values(wait_reason=HELD))
        for job_id in ids:
            add_notice(unit.session, job_id, "held", key=f"held:{trip}")
    return len(ids)


def claim_launches(runtime: Runtime, *, limit: int) -> list[Claimed]:
    """Lease the next attempts to start: highest priority first, then oldest."""
    now = utcnow()
    pick = (
        select(Attempt.id)
        .join(Job, and_(Attempt.job_id == Job.id, Attempt.number == Job.attempts))
        .where(
            Job.status == JobStatus.QUEUED.value,
            Job.stop_requested.is_(None),
            Attempt.response_id.is_(None),
            or_(Attempt.claimed_until.is_(None), Attempt.claimed_until <= now),
        )
        .order_by(Job.priority.desc(), Job.created_at)
        .limit(limit)
    )
    if not is_sqlite(runtime.engine):
        pick = pick.with_for_update(of=Attempt, skip_locked=True)
    lease = now + timedelta(seconds=runtime.settings.start_lease)
    with runtime.unit() as unit:
        ids = list(unit.session.scalars(pick))
        if not ids:
            return []
        unit.session.execute(
            update(Attempt)
            .where(Attempt.id.in_(ids))
            .values(claimed_until=lease, create_calls=Attempt.create_calls + 1)
        )
        rows = unit.session.execute(
            select(Attempt, Job).join(Job, Attempt.job_id == Job.id).where(Attempt.id.in_(ids))
        ).all()
        return [_claimed(runtime, attempt, job) for attempt, job in rows]


def _claimed(runtime: Runtime, attempt: Attempt, job: Job) -> Claimed:
    kind = runtime.kinds.get(job.kind)
    request = CreateRequest(job.id, attempt.number, attempt.idempotency_key, job.input_text, kind)
    return Claimed(request, attempt.id)
