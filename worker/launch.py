"""The launch pulse: start queued attempts, fairly, each create call fenced by its own claim.

Launching from the database rather than from one queued task per job keeps the order in
our hands and survives a flushed Redis by construction: a queued job with no response is
simply launched. A tick runs up to `limit` launches in rounds of at most `AT_ONCE`:
a round claims its attempts right before their create calls, which go side by side
(`models.store.claim.claim_launches`: priority, then round-robin between requesters,
within each one's cap and daily budget), so a lease covers one call that starts at once,
and a job queued mid-tick takes its turn at the next round.

Each create is sent once per claim, and its answer decides what follows:

* a response: stored for its attempt, or cancelled at once as an extra (`worker.responses`);
* this job's request refused (a 400): the job fails, with a sentence saying so;
* our configuration refused (401, 403, no such model, no quota): every launch holds,
  on-call is told once what to fix, nothing fails, and a probe per cool-down resumes;
* nothing made (a 429, no connection): the attempt waits as long as the provider asks;
* no capacity for a flex request (a 429 `resource_unavailable`): the job waits with a
  reason on its card, at least FLEX_WAIT between tries, and never fails for it;
* no answer (a timeout, a 5xx, a reset): the provider may have made a response we never
  heard of, so the attempt waits ERRAND_CREATE_UNKNOWN_WAIT (a webhook may reveal it
  meanwhile), and is tried at most once more (`models.store.claim`).
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from datetime import timedelta

from models.batch import LANE
from models.kinds import Kind
from models.settings import Settings
from models.store.attempt import Launch, Recorded, Unanswered, fail_start, release_create
from models.store.claim import LaunchRules, claim_launches
from models.store.turns import forget_previous
from models.store.waiting import hold_over_cap, hold_queued
from worker.batch_launch import start_batch
from worker.context import Context
from worker.provider import CreateRequest, ErrorClass, ProviderError
from worker.responses import settle_strays, take_response

log = logging.getLogger(__name__)

BATCH = 50  # launches per tick: small, so a tick ends (and yields) in seconds
AT_ONCE = 8  # claims per round: the launch pool's threads (worker.pulses.LAUNCH_THREADS)
# A refused launch is tried again soon: the breaker, not this delay, protects a
# struggling provider, and a short delay keeps the priority order on recovery.
RETRY_DELAY = timedelta(seconds=1)
# Flex capacity comes back in minutes rather than seconds: no need to ask every second.
FLEX_WAIT = timedelta(seconds=5)
NO_FLEX_CAPACITY = (
    "Waiting for flex capacity: this kind of job runs at the provider's cheaper flex tier, "
    "which has none to spare right now. It starts by itself when there is."
)
FAILING = (
    "The AI provider is failing: Errand is holding new jobs and still following "
    "the ones in flight. It resumes by itself when provider calls succeed again."
)
HELD = (
    "Waiting to start: the AI provider is failing right now. Errand will start this "
    "job by itself as soon as it recovers."
)
MISCONFIGURED = (
    "Waiting to start: Errand's access to the AI provider needs fixing, and on-call has "
    "been told. This job starts by itself once it works again."
)
FIXES = {
    "key": "The AI provider refuses Errand's API key (HTTP 401). Set a valid "
    "OPENAI_API_KEY for the workers and restart them.",
    "permission": "The AI provider refuses Errand's key or project (HTTP 403). Check the "
    "key's permissions (the Responses API) and the project's access to `{model}`.",
    "model": "The AI provider says model `{model}` does not exist or this project may not "
    "use it. Fix `model` in the kinds file (ERRAND_CONFIG) or the project's model access.",
    "quota": "The AI provider account is out of quota. Add credit or raise its limit.",
}
# The provider's answer to a `previous_response_id` it no longer keeps (past its retention).
PREVIOUS_GONE = "previous_response_not_found"
WHILE_HELD = " New jobs wait meanwhile (none fails); they start once a call succeeds."


def launch_rules(settings: Settings) -> LaunchRules:
    """What launch claims obey, from the settings."""
    return LaunchRules(
        lease=timedelta(seconds=settings.start_lease),
        unknown_wait=timedelta(seconds=settings.create_unknown_wait),
        budget_usd=settings.budget_user_daily_usd,
        max_active=settings.max_active_per_user,
    )


def launch_due(ctx: Context, executor: Executor, *, limit: int = BATCH) -> int:
    """Up to `limit` launches (fewer while the breaker holds, or as the provider's request
    budget allows: `worker.pace`), run concurrently.

    Responses that webhooks revealed are settled first: an attempt whose create went
    unanswered takes its response rather than create again."""
    settle_strays(ctx)
    allowed = allowed_launches(ctx, limit)
    if allowed == 0:
        return 0
    rules = launch_rules(ctx.settings)
    started = 0
    while allowed > 0:
        wanted = ctx.pace.allowed(min(allowed, AT_ONCE))
        if wanted == 0:  # the provider's budget is spent: the next tick looks again
            break
        claimed = claim_launches(ctx.db, ctx.kinds, rules, limit=wanted)
        ctx.pace.give_back(wanted - len(claimed))
        if claimed:  # results this worker has in hand go out first (`worker.right_of_way`)
            ctx.right_of_way.wait_clear()
        outcomes = list(executor.map(lambda launch: start(ctx, launch), claimed))
        started += outcomes.count("started")
        if "held" in outcomes or len(claimed) < wanted:  # held for our configuration, or done
            break
        allowed -= wanted
    return started


def allowed_launches(ctx: Context, limit: int) -> int:
    """How many of `limit` launches may be claimed now: fewer while the breaker holds
    (waiting jobs are told why); the requesters' cap is applied on the way."""
    allowed = ctx.breaker.launches_allowed(limit)
    if allowed < limit:
        _hold(ctx)
    rules = launch_rules(ctx.settings)
    if allowed and rules.max_active is not None:
        hold_over_cap(ctx.db, rules.max_active, rules.unknown_wait)
    return allowed


def _hold(ctx: Context) -> None:
    """Tell waiting jobs why they wait (once each), and on-call once per hold."""
    config = ctx.breaker.config_problem()
    if config is not None:
        hold, problem = config
        name, _, model = problem.partition(":")
        alert, reason = FIXES[name].format(model=model) + WHILE_HELD, MISCONFIGURED
    else:
        trip = ctx.breaker.trip_id()
        if trip is None:
            return
        hold, alert, reason = trip, FAILING, HELD
    if ctx.redis.set(f"errand:breaker:alerted:{hold}", "1", nx=True, ex=86400):
        ctx.notifier.alert(alert)
    hold_queued(ctx.db, reason, outage=hold)


def start(ctx: Context, launch: Launch) -> str:
    """Send the create call of a launch this worker holds the claim of; record the outcome."""
    kind = ctx.kinds.get(launch.kind)
    if kind.lane == LANE:
        try:
            made = start_batch(ctx, launch, kind)
        except ProviderError as error:
            return create_failed(ctx, launch, error)
        return "started" if made is Recorded.NEW else str(made)
    request = create_request(launch, kind, chained=True)
    try:
        response = ctx.provider.create(request)
    except ProviderError as error:
        return create_failed(ctx, launch, error)
    recorded = take_response(ctx, launch.job_id, launch.attempt, response, kind)
    log.info("started", extra={"job_id": launch.job_id, "response_id": response.id})
    return "started" if recorded is Recorded.NEW else recorded.value


def create_request(launch: Launch, kind: Kind, *, chained: bool) -> CreateRequest:
    """The create of a launch. A follow-up names the turn it continues when the response
    can be `chained` (stored at the provider); otherwise, or once the provider no longer
    keeps it, the earlier turns' text goes before the question."""
    text, previous = launch.input_text, launch.previous_response_id
    if launch.turn > 1 and not (chained and previous):
        text, previous = launch.earlier + text, None
    return CreateRequest(
        launch.job_id,
        launch.attempt,
        launch.idempotency_key,
        text,
        kind,
        launch.model,
        previous_response_id=previous,
        effort=launch.effort if launch.chosen else kind.effort,
        service_tier=launch.service_tier if launch.chosen else kind.service_tier,
    )


def create_failed(ctx: Context, launch: Launch, error: ProviderError) -> str:
    """Record a create that gave no response, by what its error means (module docstring)."""
    extra = {"job_id": launch.job_id, "reason": error.reason, "class": error.cls.value}
    log.warning("create failed", extra=extra)
    if error.code == PREVIOUS_GONE and launch.previous_response_id:
        forget_previous(ctx.db, launch.job_id, launch.turn)
        release_create(
            ctx.db,
            launch,
            Unanswered(True, RETRY_DELAY, "previous_gone", _said(error), error.reason),
        )
        return "will retry"
    if error.cls is ErrorClass.REFUSED:
        failed = fail_start(ctx.db, launch, _refused(launch, error), error.reason)
        return "failed" if failed else "already settled"
    if error.cls is ErrorClass.CONFIG:
        ctx.breaker.hold_for_config(_problem(error, launch.model))
    release_create(ctx.db, launch, _unanswered(error))
    return {ErrorClass.CONFIG: "held", ErrorClass.TRANSIENT: "will retry"}.get(
        error.cls, "unconfirmed"
    )


def _unanswered(error: ProviderError) -> Unanswered:
    """What the attempt does after a create that gave no response."""
    hinted = timedelta(seconds=error.retry_after or 0)
    if error.no_capacity:
        wait = max(FLEX_WAIT, hinted)
        return Unanswered(
            True, wait, "start_waiting", _said(error), error.reason, wait_reason=NO_FLEX_CAPACITY
        )
    if error.cls is ErrorClass.CONFIG:
        return Unanswered(True, RETRY_DELAY, "start_held", _said(error), error.reason)
    if error.cls is ErrorClass.TRANSIENT:
        wait = max(RETRY_DELAY, hinted)
        return Unanswered(True, wait, "start_delayed", _said(error), error.reason)
    # The response may exist: the wait after an unanswered create is the claim's rule.
    return Unanswered(False, hinted, "start_unanswered", _said(error), error.reason)


def _said(error: ProviderError) -> str:
    """The answer's class and code, without the provider's words."""
    answer = f"HTTP {error.status}" if error.status else "no answer"
    return f"{error.cls.value}: {answer}" + (f" ({error.code})" if error.code else "")


def _refused(launch: Launch, error: ProviderError) -> str:
    what = error.code or f"HTTP {error.status}"
    return (
        f"The AI provider refused this job's request ({what}), so it did not start. Try "
        f"rewording or shortening it; on-call can read the provider's answer with "
        f"`errand jobs show {launch.job_id}`."
    )


def _problem(error: ProviderError, model: str) -> str:
    """Which configuration the provider refused, as a key of FIXES (with the model)."""
    if error.code == "insufficient_quota":
        return "quota"
    if error.status == 401:
        return "key"
    if error.status == 404 or error.code == "model_not_found":
        return f"model:{model}"
    return f"permission:{model}"
