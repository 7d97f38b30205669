"""Provider errors by class: our configuration refused holds every launch and fails
nothing; this job's request refused fails that job alone, in Errand's words; the
provider's own words stay in the job's record and never reach a channel."""

from __future__ import annotations

import json

import openai
import pytest

from models.kinds import load_kinds
from models.store.submission import submit
from tests.support.ledger import stored
from tests.support.procs import wait_for
from tests.support.slack import BotProcess, card_text, job_id_of
from tests.support.stack import OpenAISandbox, Stack
from worker.provider import CreateRequest, ErrorClass, Provider, ProviderError

PROVIDER_WORDS = ("Incorrect API key", "sk-sandbox", "platform.openai.com", "Unsupported parameter")


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"error": "invalid_api_key"}, ErrorClass.CONFIG),
        ({"error": "permission"}, ErrorClass.CONFIG),
        ({"error": "project_model_access"}, ErrorClass.CONFIG),
        ({"error": "model_not_found"}, ErrorClass.CONFIG),
        ({"error": "insufficient_quota"}, ErrorClass.CONFIG),
        ({"error": "invalid_request"}, ErrorClass.REFUSED),
        ({"error": "rate_limit"}, ErrorClass.TRANSIENT),
        ({"error": "resource_unavailable"}, ErrorClass.TRANSIENT),
        ({"error": "server_error", "made": True}, ErrorClass.UNKNOWN),
        ({"error": "bad_gateway", "html": True}, ErrorClass.UNKNOWN),
        ({"error": "overloaded"}, ErrorClass.UNKNOWN),
        ({"error": "gateway_timeout"}, ErrorClass.UNKNOWN),
        ({"reset": True}, ErrorClass.UNKNOWN),
    ],
)
def test_each_create_error_has_its_class(
    provider: OpenAISandbox, fault: dict[str, object], expected: ErrorClass
) -> None:
    provider.fault(endpoint="create", **fault)
    client = openai.OpenAI(api_key="sk-sandbox", base_url=provider.base_url)
    kind = load_kinds().get("research")
    request = CreateRequest("JOB1", 1, "key-1", "A question", kind, kind.model)
    with pytest.raises(ProviderError) as raised:
        Provider(client).create(request)
    assert raised.value.cls is expected


def _everything_in_slack(bot: BotProcess) -> str:
    """Every message, reply and ephemeral text Errand posted, in every channel."""
    seen = [bot.slack.conversation(c) for c in ("C_GENERAL", "C_ONCALL", "C_APPROVALS")]
    return json.dumps(seen)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_rejected_key_for_20_seconds_holds_jobs_fails_none_and_tells_oncall_once(
    stack: Stack, bot: BotProcess
) -> None:
    stack.env.update({"ERRAND_ONCALL_CHANNEL": "C_ONCALL", "ERRAND_BREAKER_COOLDOWN": "2"})
    stack.openai.fault(endpoint="create", error="invalid_api_key", seconds=20)
    stack.start_worker()
    for n in range(3):
        assert bot.command("/research", f"Question {n} [sandbox: duration=1]").status_code == 200
    wait_for(lambda: len(bot.slack.cards("C_GENERAL")) == 3, 30, "cards did not appear")
    ids = [job_id_of(card) for card in bot.slack.cards("C_GENERAL")]
    wait_for(
        lambda: any("needs fixing" in card_text(c) for c in bot.slack.cards("C_GENERAL")),
        30,
        "no card said why it waits",
    )
    stack.wait_settled(ids, timeout=120)
    assert {stack.status(job_id) for job_id in ids} == {"completed"}
    records = [stored(stack, job_id) for job_id in ids]
    assert not [e for r in records for e in r["events"] if e["to_status"] == "failed"]
    [alert] = bot.slack.messages("C_ONCALL")
    assert "OPENAI_API_KEY" in card_text(alert)
    assert any("Incorrect API key" in str(r["attempt_history"]) for r in records)
    shown = _everything_in_slack(bot)
    assert not [words for words in PROVIDER_WORDS if words in shown]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_request_the_provider_refuses_fails_that_job_alone_in_errands_words(
    stack: Stack,
) -> None:
    stack.openai.fault(endpoint="create", error="invalid_request", count=1)
    stack.start_worker()
    refused = submit(stack.db, stack.kinds, "research", "Refused", user="U_TEST").id
    stack.wait_status(refused, "failed", timeout=30)
    fine = submit(stack.db, stack.kinds, "research", "Fine [sandbox: duration=1]", user="U_TEST")
    stack.wait_status(fine.id, "completed", timeout=30)
    record = stored(stack, refused)
    assert record["error"].startswith(
        "The AI provider refused this job's request (unsupported_parameter)"
    )
    assert "temperature" not in record["error"]
    assert "Unsupported parameter: 'temperature'" in record["provider_error"]
    assert record["provider_creates"] == 1
