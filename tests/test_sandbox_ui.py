"""`errand run --sandbox` in headless Chromium, used the way a person uses Slack.

One sandbox for the module, started exactly as the README says (a subprocess printing
its URL); each test gets a fresh page and its own unique question text. A failed test
leaves a screenshot and the sandbox's log in test-artifacts/sandbox-ui/.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    SandboxRun,
    chromium_path,
    save_screenshot,
    start_sandbox,
    stop_sandbox,
)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

# A person's few-second waits, timed in a browser: beside two other tests running
# hundreds of jobs on 2 cores, the page missed them (two CI runs, two tests).
pytestmark = pytest.mark.exclusive

SECOND = 1000  # Playwright counts milliseconds


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxRun]:
    run = start_sandbox(tmp_path_factory.mktemp("sandbox-run"))
    yield run
    left = stop_sandbox(run)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "sandbox.log").write_text(run.output())
    assert not left, f"processes outlived errand run --sandbox: {left}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, sandbox: SandboxRun, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The sandbox's page, as the requester in #general; screenshot if the test fails."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(20 * SECOND)
    failures = request.session.testsfailed
    opened.goto(sandbox.url)
    expect(opened.locator("#as-user")).to_have_value("U_REQUESTER")
    yield opened
    if request.session.testsfailed > failures:  # the call phase has been reported by now
        save_screenshot(opened, request.node.name)
        (ARTIFACTS / f"{request.node.name}.log").write_text(sandbox.output())
    context.close()


# -- what a person does ---------------------------------------------------------------


def unique(words: str) -> str:
    return f"{words} {secrets.token_hex(3)}"


def act_as(page: Any, user: str) -> None:
    page.select_option("#as-user", user)
    expect(page.locator("#as-user")).to_have_value(user)


def open_channel(page: Any, channel: str) -> None:
    page.locator(f'#channel-list [data-channel="{channel}"]').click()
    expect(page.locator(f'#channel-list [data-channel="{channel}"]')).to_have_class(
        "side-item active"
    )


def type_command(page: Any, text: str) -> None:
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")
    expect(page.locator("#composer-input")).to_have_value("")  # the bot has answered
    expect(page.locator("#composer-input")).to_be_enabled()


def message_with(page: Any, marker: str) -> Any:
    """The (one) bot message in the open channel that mentions `marker`."""
    return page.locator("#messages .msg:not(.ephemeral)", has_text=marker)


def latest_ephemeral(page: Any) -> Any:
    return page.locator("#messages .msg.ephemeral").last


# -- the tests ----------------------------------------------------------------------------


def test_research_card_goes_queued_running_completed_and_answers_in_thread(page: Any) -> None:
    marker = unique("heat pumps")
    type_command(page, f"/research How do {marker} cope with frost? [sandbox: queue=4 duration=9]")

    expect(latest_ephemeral(page)).to_contain_text("status card follows")
    card = message_with(page, marker)
    expect(card).to_contain_text("Queued")
    expect(card.get_by_role("button", name="Cancel")).to_be_visible()
    expect(card).to_contain_text("Running", timeout=30 * SECOND)
    expect(card).to_contain_text("Completed", timeout=40 * SECOND)
    expect(card.get_by_role("button", name="Cancel")).to_have_count(0)

    card.locator(".replies").click()
    thread = page.locator("#thread")
    expect(thread).to_contain_text("Started on")
    expect(thread).to_contain_text("Result of job")
    expect(thread).to_contain_text("Sources")
    expect(thread.locator('a[href^="https://"]').first).to_be_visible()


def test_requester_cancels_a_slow_job_after_someone_else_is_refused(page: Any) -> None:
    marker = unique("tidal energy")
    type_command(page, f"/research What is {marker}? [sandbox: slow]")
    card = message_with(page, marker)
    expect(card.get_by_role("button", name="Cancel")).to_be_visible()

    act_as(page, "U_OTHER")
    card.get_by_role("button", name="Cancel").click()
    expect(latest_ephemeral(page)).to_contain_text("Only the person who asked")
    expect(card.get_by_role("button", name="Cancel")).to_be_visible()

    act_as(page, "U_REQUESTER")
    card.get_by_role("button", name="Cancel").click()
    expect(card).to_contain_text("Canceled", timeout=30 * SECOND)
    expect(card).not_to_contain_text("Canceling")
    card.locator(".replies").click()
    expect(page.locator("#thread")).to_contain_text("Canceled by @riley")


def test_approver_approves_a_draft_from_the_approvals_channel(page: Any) -> None:
    marker = unique("launch note")
    type_command(page, f"/draft A short {marker} for the team [sandbox: duration=3]")
    card = message_with(page, marker)
    expect(card).to_contain_text("Waiting for review", timeout=40 * SECOND)

    act_as(page, "U_OTHER")
    open_channel(page, "C_APPROVALS")
    request = message_with(page, marker)
    request.get_by_role("button", name="Approve").click()
    expect(latest_ephemeral(page)).to_contain_text("Only approvers can approve")

    act_as(page, "U_APPROVER")
    expect(request).to_contain_text("The whole draft is in this thread")
    request.locator(".replies").click()  # the draft is shown to approvers only
    expect(page.locator("#thread")).to_contain_text("(not final)")
    request.get_by_role("button", name="Approve").click()
    expect(request).to_contain_text("Approved by @avery", timeout=30 * SECOND)
    expect(request.get_by_role("button", name="Approve")).to_have_count(0)

    act_as(page, "U_REQUESTER")
    open_channel(page, "C_GENERAL")
    expect(message_with(page, marker)).to_contain_text("Completed", timeout=30 * SECOND)


def test_approver_rejects_with_a_reason_in_a_modal_and_home_lists_the_job(page: Any) -> None:
    marker = unique("press release")
    type_command(page, f"/draft A {marker} about nothing [sandbox: duration=2]")
    expect(message_with(page, marker)).to_contain_text("Waiting for review", timeout=40 * SECOND)

    act_as(page, "U_APPROVER")
    open_channel(page, "C_APPROVALS")
    request = message_with(page, marker)
    request.get_by_role("button", name="Reject").click()
    modal = page.locator("#modal")
    expect(modal).to_contain_text("Reject result")
    modal.locator("textarea").fill("Too vague to send")
    modal.get_by_role("button", name="Reject").click()
    expect(modal).to_have_count(0)
    expect(request).to_contain_text("Rejected by @avery", timeout=30 * SECOND)
    expect(request).to_contain_text("Too vague to send")

    act_as(page, "U_REQUESTER")
    open_channel(page, "C_GENERAL")
    expect(message_with(page, marker)).to_contain_text("Rejected", timeout=30 * SECOND)
    page.locator('#app-list [data-app="home"]').click()
    home = page.locator("#home")
    expect(home).to_contain_text("Your errands")
    expect(home).to_contain_text(marker)


def test_a_batch_file_is_picked_in_the_modal_and_a_bad_one_is_refused_there(
    page: Any, tmp_path: Path
) -> None:
    marker = unique("river")
    type_command(page, f"/batch Name each city's main {marker}.")
    modal = page.locator("#modal")
    expect(modal).to_contain_text("File of rows")
    picker = modal.locator("input[type=file]")
    expect(picker).to_have_attribute("accept", ".csv,.jsonl,.ndjson,.txt")
    expect(modal.locator("textarea")).to_have_value(f"Name each city's main {marker}.")

    bad, good = tmp_path / "numbers.csv", tmp_path / "cities.csv"
    bad.write_text("1,2\n3,4\n")
    good.write_text("city\n" + "".join(f"City {n}\n" for n in range(12)))
    picker.set_input_files(str(bad))
    modal.get_by_role("button", name="Run batch").click()
    expect(modal).to_contain_text("not a header row")
    modal.locator("input[type=file]").set_input_files(str(good))
    modal.get_by_role("button", name="Run batch").click()
    expect(modal).to_have_count(0)
    expect(latest_ephemeral(page)).to_contain_text("on 12 rows from cities.csv")
    expect(message_with(page, marker)).to_contain_text("Batch for")


def test_oncall_cancels_from_jobs_all_and_requester_from_the_home_tab(page: Any) -> None:
    first, second = unique("wind farms"), unique("solar roofs")
    type_command(page, f"/research About {first} [sandbox: slow]")
    type_command(page, f"/research About {second} [sandbox: slow]")
    expect(message_with(page, first).get_by_role("button", name="Cancel")).to_be_visible()
    expect(message_with(page, second).get_by_role("button", name="Cancel")).to_be_visible()

    act_as(page, "U_ONCALL")
    type_command(page, "/jobs all")
    listing = latest_ephemeral(page)
    expect(listing).to_contain_text("All jobs")
    row = listing.locator(".bk-section", has_text=first)
    row.locator("xpath=following-sibling::div[1]").get_by_role("button", name="Cancel").click()
    expect(message_with(page, first)).to_contain_text("Canceled", timeout=30 * SECOND)

    act_as(page, "U_REQUESTER")
    page.locator('#app-list [data-app="home"]').click()
    home = page.locator("#home")
    expect(home).to_contain_text(second)
    home_row = home.locator(".bk-section", has_text=second)
    home_row.locator("xpath=following-sibling::div[1]").get_by_role("button", name="Cancel").click()
    page.locator('#tabs [data-tab="messages"]').click()
    expect(page.locator("#messages")).to_contain_text("Canceling job")
    open_channel(page, "C_GENERAL")
    expect(message_with(page, second)).to_contain_text("Canceled", timeout=30 * SECOND)


def test_slash_command_refusals_are_ephemeral_and_jobs_lists_mine(page: Any) -> None:
    type_command(page, "/research")
    expect(latest_ephemeral(page)).to_be_visible()
    type_command(page, "/jobs all")
    expect(latest_ephemeral(page)).to_contain_text("for on-call only")
    type_command(page, "/jobs mine")
    expect(latest_ephemeral(page)).to_contain_text("Your recent jobs")


def test_the_page_says_how_to_steer_the_provider(page: Any) -> None:
    hints = page.locator("#hints")
    for directive in ("[sandbox: slow]", "[sandbox: fail]", "[sandbox: incomplete]"):
        expect(hints).to_contain_text(directive)
    page.fill("#delay", "4")
    page.click("#delay-set")
    expect(page.locator("#delay-now")).to_have_text("(now 4 s)")


def test_a_mention_its_follow_up_and_slacks_stop_show_in_the_thread(page: Any) -> None:
    """The thread as an agent session: its status chip, 👍/👎 under the result (a 👎 asks
    what was wrong), the card's link to its thread, and Slack's Stop on a follow-up."""
    marker = unique("heat batteries")
    say = page.locator("#composer-input")
    # Long enough to see it work: a status waits for Slack's budget for statuses, and
    # one the job's end overtakes is never shown.
    say.fill(f"@errand How do {marker} store heat? [sandbox: duration=8]")
    say.press("Enter")
    asked = message_with(page, marker)
    expect(asked.locator(".agent-chip")).to_have_text("processing", timeout=30 * SECOND)
    asked.locator(".replies").click()
    thread = page.locator("#thread")
    expect(thread).to_contain_text("Result of job", timeout=40 * SECOND)
    agent = page.locator("#thread-agent")
    expect(agent.locator(".agent-chip")).to_have_text("active", timeout=20 * SECOND)
    card = thread.locator(".msg", has_text="Open thread")  # the card links to its thread
    expect(card).to_contain_text("Completed")
    expect(card).to_contain_text("took")
    shot(page, "agent-thread-result")

    thread.get_by_role("button", name="Not a good answer").click()
    modal = page.locator("#modal")
    expect(modal).to_contain_text("What was wrong")
    modal.locator("textarea").fill("It left out the running costs.")
    shot(page, "agent-feedback-modal")
    modal.get_by_role("button", name="Send").click()
    expect(modal).to_have_count(0)

    reply = page.locator("#thread-input")
    reply.fill("@errand and what do they cost? [sandbox: slow]")
    reply.press("Enter")
    expect(agent.locator(".agent-chip")).to_have_text("processing", timeout=30 * SECOND)
    expect(card).to_contain_text("turn 2", timeout=30 * SECOND)
    expect(card).to_contain_text("Running")
    shot(page, "agent-follow-up-working")
    agent.get_by_role("button", name="Stop").click()
    expect(card).to_contain_text("Canceled", timeout=30 * SECOND)
    expect(agent.locator(".agent-chip")).to_have_text("active", timeout=20 * SECOND)
    expect(agent.get_by_role("button", name="Stop")).to_have_count(0)
    shot(page, "agent-stopped")
    card.scroll_into_view_if_needed()
    expect(card.get_by_role("link", name="Open thread")).to_be_visible()
    shot(page, "agent-card-linked")


def shot(page: Any, name: str) -> Path:
    """A screenshot of what the person sees, kept in test-artifacts/ to look at."""
    return save_screenshot(page, name)
