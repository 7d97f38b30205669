"""Nothing silent, nothing repeated: permanent Slack errors end in a way forward, never in
a job's news waiting for ever or posted twice. Real bot, real worker, the Slack stand-in
with Slack's documented rate tiers and its permanent errors."""

from __future__ import annotations

import json

import pytest

from tests.support.procs import wait_for
from tests.support.slack import BotProcess, job_id_of, thread_texts
from tests.support.stack import LONG_ANSWER_TOKENS, Stack
from tests.test_bot_flow import card_showing, replies_with

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _dm_of(bot: BotProcess, stack: Stack, job_id: str) -> str:
    wait_for(lambda: stack.show(job_id)["channel_id"].startswith("D"), 30, "job not moved to a DM")
    return str(stack.show(job_id)["channel_id"])


def test_a_channel_the_bot_leaves_after_the_card_still_gets_the_result_by_dm(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    bot.command("/research", "Leave me [sandbox: duration=6]")
    card = bot.slack.card("C_GENERAL", timeout=40)
    job_id = job_id_of(card)
    bot.slack.remove_bot("C_GENERAL")
    stack.wait_status(job_id, "completed", timeout=40)
    dm = _dm_of(bot, stack, job_id)
    card_showing(bot, dm, "Completed")
    replies_with(bot, dm, "Result of job")
    refused = [c for c in bot.slack.calls() if c.get("error") == "not_in_channel"]
    assert 1 <= len(refused) <= 10, refused


def test_an_archived_channel_gets_the_result_by_dm_and_nothing_is_retried_there(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    bot.command("/research", "Archive me [sandbox: duration=6]")
    job_id = job_id_of(bot.slack.card("C_GENERAL", timeout=40))
    bot.slack.archive("C_GENERAL")
    stack.wait_status(job_id, "completed", timeout=40)
    dm = _dm_of(bot, stack, job_id)
    replies_with(bot, dm, "Result of job")
    refused = len([c for c in bot.slack.calls() if c.get("error") == "is_archived"])
    card_showing(bot, dm, "Completed")
    assert 1 <= len([c for c in bot.slack.calls() if c.get("error") == "is_archived"]) <= 10
    assert len([c for c in bot.slack.calls() if c.get("error") == "is_archived"]) == refused


def test_an_unreachable_oncall_channel_holds_up_no_result(stack: Stack, bot: BotProcess) -> None:
    stack.env["ERRAND_ONCALL_CHANNEL"] = "C_ONCALL_GONE"
    stack.write_kinds(stuck_after_seconds=1)
    stack.start_worker()
    bot.command("/research", "Runs past its stuck threshold [sandbox: duration=12]")
    job_id = job_id_of(bot.slack.card("C_GENERAL", timeout=40))
    reported = lambda: "reported_stuck" in [e["action"] for e in stack.show(job_id)["events"]]  # noqa: E731
    wait_for(reported, 30, "never reported stuck")
    card_showing(bot, "C_GENERAL", "Completed", timeout=40)
    replies_with(bot, "C_GENERAL", "Result of job")


@pytest.mark.kinds(max_output_tokens=LONG_ANSWER_TOKENS)
def test_a_permanent_error_in_the_middle_of_a_result_posts_each_part_once(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    bot.command("/research", "Three parts [sandbox: chars=55000 duration=4]")
    card_showing(bot, "C_GENERAL", "Running")
    # The second part of the result is refused for good (once): it goes again as plain
    # text, and nothing before or after it is posted twice.
    posts = len(bot.slack.calls("chat.postMessage"))
    bot.slack.fault(method="chat.postMessage", status=200, error="invalid_blocks", count=1, after=1)
    card_showing(bot, "C_GENERAL", "Completed", timeout=60)
    replies_with(bot, "C_GENERAL", "(part 1 of", timeout=60)
    wait_for(lambda: len(_result_heads(bot)) == _parts_of(bot), 60, "not every part posted")
    heads = _result_heads(bot)
    assert len(heads) == len(set(heads)) == _parts_of(bot) >= 3, heads
    refused = [c for c in bot.slack.calls("chat.postMessage") if c["error"] == "invalid_blocks"]
    assert len(refused) == 1 and len(bot.slack.calls("chat.postMessage")) > posts


def _result_heads(bot: BotProcess) -> list[str]:
    """Each result part's heading (the first part's after its mention of the requester)."""
    heads = [t.split("\n")[0] for t in thread_texts(bot.slack.card("C_GENERAL"))]
    heads = [h.removeprefix("<@U_REQUESTER> ") for h in heads]
    return [h.split("[")[0] for h in heads if h.startswith("Result of job")]


def _parts_of(bot: BotProcess) -> int:
    """N of the first "(part 1 of N)" heading."""
    first = next(h for h in _result_heads(bot) if "(part 1 of" in h)
    return int(first.rsplit(" ", 1)[1].rstrip(")"))


def test_one_result_message_per_job_even_when_slack_times_out_after_posting(
    stack: Stack, bot: BotProcess
) -> None:
    """A post whose answer is lost is found in the thread on the next try, not posted again."""
    stack.start_worker()
    bot.command("/research", "Post me once [sandbox: duration=4]")
    card_showing(bot, "C_GENERAL", "Running")
    bot.slack.fault(method="chat.postMessage", answer_delay=20, count=1)
    card_showing(bot, "C_GENERAL", "Completed", timeout=90)
    replies_with(bot, "C_GENERAL", "Result of job", timeout=90)
    results = [t for t in thread_texts(bot.slack.card("C_GENERAL")) if "Result of job" in t]
    assert len(results) == 1


def test_a_stranger_cannot_read_a_job_by_its_id(stack: Stack, bot: BotProcess) -> None:
    stack.start_worker()
    bot.command("/research", "A private question [sandbox: duration=1]", channel="C_NOBOT")
    wait_for(lambda: stack.cli("jobs", "list", "--json").stdout.count('"id"'), 20, "no job")
    job_id = json.loads(stack.cli("jobs", "list", "--json").stdout)[0]["id"]
    bot.command("/jobs", job_id, user="U_OTHER", channel="C_GENERAL")
    wait_for(lambda: bot.slack.ephemeral("C_GENERAL", "U_OTHER"), 20, "no answer")
    answer = bot.slack.ephemeral("C_GENERAL", "U_OTHER")[0]
    assert "can't see" in answer and "private question" not in answer
    bot.command("/jobs", job_id, user="U_REQUESTER", channel="C_GENERAL")
    wait_for(lambda: bot.slack.ephemeral("C_GENERAL", "U_REQUESTER"), 20, "no answer")
    assert "private question" in json.dumps(bot.slack.conversation("C_GENERAL")["ephemeral"])


def test_a_worker_killed_mid_post_looks_only_for_the_post_under_way(
    stack: Stack, bot: BotProcess
) -> None:
    """A worker killed while one of its posts is under way leaves that post uncertain, and
    the notices it had claimed but not begun are simply sent: Slack allows a look in a
    thread (`conversations.replies`) once a minute, so a look each would hold every one of
    them up a minute more. Each message still lands once."""
    stack.start_worker()
    # The card's first try is refused (429): the job finishes meanwhile, so one claim then
    # holds its card and its result. The card's post is made but its answer held: the
    # worker dies with the card under way and the result claimed, not begun.
    bot.slack.fault(method="chat.postMessage", status=429, retry_after=5, count=1)
    bot.slack.fault(method="chat.postMessage", answer_delay=120, count=1)
    bot.command("/research", "Kill me mid-post [sandbox: duration=1]")
    bot.slack.card("C_GENERAL", timeout=30)  # carried out, its answer still held
    [job] = stack.jobs()
    assert stack.wait_status(job["id"], "completed") == "completed"
    stack.stop_workers(kill=True)

    stack.start_worker()  # takes over once the dead worker's claim lapses (a minute)
    replies_with(bot, "C_GENERAL", "Result of job", timeout=120)
    card = bot.slack.card("C_GENERAL")
    assert len(bot.slack.cards("C_GENERAL")) == 1
    assert len([t for t in thread_texts(card) if "Result of job" in t]) == 1
    assert len(bot.slack.calls("conversations.history")) == 1  # the card: it was under way
    assert bot.slack.calls("conversations.replies") == []  # the result had not begun
