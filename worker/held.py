"""Zero data retention (ERRAND_ZDR=1): every job is a stream its worker holds.

Background mode keeps response data at the provider for a while, so in this mode no create
carries `background=true` or `store=true`: a worker creates the response with
`stream=true, store=false` on a thread of its own (one of ERRAND_ZDR_SLOTS per process)
and reads it to the end, storing progress and, from the terminal event, the output, usage
and cost, through the same store calls as a polled response (`worker.stream.follow`).

* Each worker claims work for its own free slots (a pulse per process, not one per
  deployment): no free slot, no claim, and the job waits in `queued`.
* The launch claim stays on the attempt while the stream runs, renewed by the keeper
  (`worker.holds`). A worker that dies loses its responses; the claims lapse and any
  worker starts those attempts again (`models.store.hold.restart_lapsed`), with a fresh
  create counted on the attempt: there is nothing at the provider to resume.
* A stream that breaks mid-way ends its attempt as a provider failure worth another
  attempt (the kind's `max_attempts`); a cancel or an expiry closes the stream.
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import timedelta

from models.kinds import Kind
from models.steps import Plan
from models.store.attempt import Launch, Recorded, note_extra
from models.store.claim import claim_launches
from models.store.hold import hold_response, release_hold, restart_held, restart_lapsed
from models.store.observations import Observation
from models.store.stream import StreamTarget
from worker.answers import apply_seen
from worker.context import Context
from worker.holds import LEAVING, LOST, STOP, Hold, Keeper
from worker.launch import allowed_launches, create_failed, create_request, launch_rules
from worker.metrics import STREAMS
from worker.pressure import Pressure
from worker.provider import Held, ProviderError
from worker.pulse import Pulse
from worker.stream import Reading, follow, save

log = logging.getLogger(__name__)

STOPPED = "the response was stopped: Errand closed its stream"
BROKEN = (
    "The connection to the AI provider broke while it was writing the answer, and under "
    "zero data retention it keeps nothing to resume."
)
LEAVE_GRACE = 10.0  # seconds a stopping worker waits for its readers to record the restart


class HeldStreams:
    """This worker's slots, the threads reading in them, and the keeper of their claims."""

    def __init__(self, ctx: Context, pressure: Pressure) -> None:
        self._ctx = ctx
        self._pressure = pressure
        self._free = ctx.settings.zdr_slots
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self.keeper = Keeper(ctx.db, timedelta(seconds=ctx.settings.start_lease))

    def pulse(self) -> Pulse:
        """The launch pulse of this process alone: it claims only what its slots can hold."""
        return Pulse("launch-held", self.tick, 0.25, each_worker=True, on_stop=self.leave)

    def tick(self) -> str:
        """Start again what dead workers held, then claim up to the free slots (a trickle
        while this worker's results are late: `worker.pressure`)."""
        restarted = restart_lapsed(self._ctx.db)
        room = self._room()
        allowed = allowed_launches(self._ctx, self._pressure.launch_limit(room)) if room else 0
        claimed = []
        if allowed:
            rules = launch_rules(self._ctx.settings)
            claimed = claim_launches(self._ctx.db, self._ctx.kinds, rules, limit=allowed)
        for launch in claimed:
            self._start(launch)
        return f"started {len(claimed)}, restarted {len(restarted)}, free {room - len(claimed)}"

    def leave(self) -> None:
        """Close every stream; each reader starts its attempt again for another worker."""
        self.keeper.leave()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(LEAVE_GRACE / max(len(threads), 1))

    def _room(self) -> int:
        with self._lock:
            return self._free

    def _start(self, launch: Launch) -> None:
        thread = threading.Thread(
            target=self._run, args=(launch,), name=f"errand-held-{launch.job_id}", daemon=True
        )
        with self._lock:
            self._free -= 1
            self._threads.add(thread)
        thread.start()

    def _run(self, launch: Launch) -> None:
        try:
            outcome = run(self._ctx, launch, self.keeper)
            log.info("held stream ended", extra={"job_id": launch.job_id, "outcome": outcome})
        except Exception:  # its claim lapses, and another worker starts it again
            log.exception("held stream failed", extra={"job_id": launch.job_id})
        finally:
            with self._lock:
                self._free += 1
                self._threads.discard(threading.current_thread())


def run(ctx: Context, launch: Launch, keeper: Keeper) -> str:
    """Create the launch's response as a held stream and read it to its end."""
    kind = ctx.kinds.get(launch.kind)
    # Nothing is stored at the provider: a follow-up carries the earlier turns' text.
    request = create_request(launch, kind, chained=False)
    try:
        held = ctx.provider.open_held(request)
    except ProviderError as error:
        return create_failed(ctx, launch, error)
    with held.events:  # closed whatever happens: that ends the response at the provider
        return _hold(ctx, launch, kind, held, keeper)


def _hold(ctx: Context, launch: Launch, kind: Kind, held: Held, keeper: Keeper) -> str:
    response_id = held.response.id
    detail = f"response {response_id} on {held.response.model} ({kind.lane}), held: not stored"
    stored = hold_response(ctx.db, launch, response_id, detail)
    if stored.recorded is not Recorded.NEW:  # stopped or taken over meanwhile
        note_extra(ctx.db, launch.job_id, response_id, "not needed: its stream was closed")
        return "extra"
    log.info("held stream", extra={"job_id": launch.job_id, "response_id": response_id})
    target = StreamTarget(
        launch.job_id, launch.attempt_id, launch.attempt, response_id, None, stored.run
    )
    hold = keeper.add(target, launch.claim_token, held.events)
    try:
        outcome = _read(ctx, target, kind, held)
    finally:
        keeper.remove(hold)
    if outcome != "finished":
        outcome = hold.why or outcome
    STREAMS.labels("held", outcome).inc()
    _end(ctx, hold, outcome)
    return outcome


def _read(ctx: Context, target: StreamTarget, kind: Kind, held: Held) -> str:
    """Apply the events after the first; progress notices only for streaming kinds."""
    reading = Reading(cursor=None, every=kind.progress_every if kind.stream else math.inf)
    if kind.lane == "interactive":
        reading.text = []
    elif kind.stream:
        reading.plan = Plan()
    try:
        outcome = follow(ctx, target, reading, held.events)
    except Exception:  # closed under its feet (a cancel), or a reply it could not read
        log.info("held stream cut", exc_info=True, extra={"job_id": target.job_id})
        outcome = "dropped"
    if outcome != "finished":
        save(ctx, target, reading, force=True)
    return outcome


def _end(ctx: Context, hold: Hold, outcome: str) -> None:
    """What the stream's end means for its attempt, by why it ended."""
    target = hold.target
    if outcome == LOST:  # another worker took the attempt over, or the job ended
        return
    if outcome == LEAVING:
        restart_held(ctx.db, target.attempt_id, hold.token, "its worker stopped")
        return
    with ctx.db.unit() as unit:
        if outcome != "finished":
            webhooks = ctx.settings.webhooks_enabled
            apply_seen(unit.session, ctx.kinds, _seen(target, outcome), webhooks=webhooks)
        release_hold(unit.session, target.attempt_id, hold.token)


def _seen(target: StreamTarget, outcome: str) -> Observation:
    """The attempt's end as Errand saw it: stopped on request, or broken mid-way."""
    if outcome == STOP:
        return Observation(target.response_id, "cancelled", error=STOPPED)
    said = f"the response's stream {outcome} before the response did"
    return Observation(
        target.response_id, "failed", error=BROKEN, provider_error=said, retryable=True
    )
