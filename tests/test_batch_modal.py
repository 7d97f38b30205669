"""/batch from Slack: the command opens a modal with a file input; a bad file is refused in
the modal with a sentence and makes no job; a good one makes exactly one batch job, whose
card appears in the channel. A real bot process, the Slack stand-in playing the person
(upload into the modal, submit) and sending what Slack sends, signed as Slack signs it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bot.download import FileRefused, download
from sandbox import slack_signing as signing
from tests.support.procs import wait_for
from tests.support.slack import SECRET, TOKEN, BotProcess, SlackSandbox, card_text, job_id_of
from tests.support.stack import Stack
from tests.test_batch import QUICK, results

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ME = "U_REQUESTER"
FILE, FILE_INPUT = "batch_file", "batch_file_input"
TODO, TODO_INPUT = "batch_instructions", "batch_instructions_input"


def csv_rows(count: int) -> bytes:
    lines = ["city,country"] + [f"City {n},Country {n % 7}" for n in range(1, count + 1)]
    return ("\n".join(lines) + "\n").encode()


def _wired(bot: BotProcess) -> BotProcess:
    """The stand-in sends people's actions to this bot, signed with its secret."""
    bot.slack.configure(request_url=f"{bot.url}/slack/events", signing_secret=SECRET)
    return bot


def _modals(bot: BotProcess) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = bot.slack.views(ME)["modals"]
    return found


def _open(bot: BotProcess, text: str = "", channel: str = "C_GENERAL") -> dict[str, Any]:
    """Type `/batch [text]` in `channel`; the modal once it is open."""
    sent = _wired(bot).slack.act("command", user=ME, channel=channel, text=f"/batch {text}")
    assert sent["status"] == 200, sent
    wait_for(lambda: _modals(bot), 10, "no modal opened")
    [modal] = _modals(bot)
    return modal


def _upload(bot: BotProcess, name: str, content: bytes) -> str:
    body = {"user": ME, "name": name, "content_base64": base64.b64encode(content).decode()}
    return str(bot.slack.act("upload", **body)["file"]["id"])


def _submit(
    bot: BotProcess, modal: dict[str, Any], file_id: str, todo: str = "Name its river."
) -> dict[str, Any]:
    values = {FILE: {FILE_INPUT: [file_id]}, TODO: {TODO_INPUT: todo}}
    return bot.slack.act("submit", user=ME, view_id=modal["id"], values=values)


def _jobs(stack: Stack) -> list[dict[str, Any]]:
    listed = stack.cli("jobs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    jobs: list[dict[str, Any]] = json.loads(listed.stdout)
    return jobs


def _text(view: dict[str, Any]) -> str:
    return json.dumps(view.get("blocks") or [])


@SQLITE
def test_batch_opens_a_modal_with_a_file_input_and_the_typed_instructions(
    stack: Stack, bot: BotProcess
) -> None:
    modal = _open(bot, "Name each city's river.")
    assert modal["callback_id"] == "batch_rows"
    blocks = {b.get("block_id"): b for b in modal["blocks"]}
    picker = blocks[FILE]["element"]
    assert picker["type"] == "file_input" and picker["max_files"] == 1
    assert set(picker["filetypes"]) == {"csv", "jsonl", "ndjson", "txt"}
    todo = blocks[TODO]["element"]
    assert todo["multiline"] is True and todo["initial_value"] == "Name each city's river."
    assert json.loads(modal["private_metadata"])["channel"] == "C_GENERAL"
    [opened] = bot.slack.calls("views.open")
    assert opened["status"] == 200


TOO_MANY = b"q\n" + b"x\n" * 50_001
BAD_FILES = {
    "empty": ("rows.csv", b"", "empty"),
    "no header": ("rows.csv", b"1,2\n3,4\n", "header row"),
    "not utf-8": ("rows.csv", "city\nK\u00f8benhavn\n".encode("latin-1"), "UTF-8"),
    "too many rows": ("rows.csv", TOO_MANY, "at most 50,000"),
    "bad json": ("rows.jsonl", b'{"city": "Oslo"}\n{city\n', "Line 2"),
}


@SQLITE
@pytest.mark.parametrize("name, content, words", BAD_FILES.values(), ids=list(BAD_FILES))
def test_a_bad_file_is_refused_in_the_modal_and_makes_no_job(
    stack: Stack, bot: BotProcess, name: str, content: bytes, words: str
) -> None:
    modal = _open(bot)
    answer = _submit(bot, modal, _upload(bot, name, content))
    assert answer["status"] == 200 and set(answer["errors"]) == {FILE}, answer
    assert words in answer["errors"][FILE], answer
    assert [m["id"] for m in _modals(bot)] == [modal["id"]]  # still open, to try again
    assert _jobs(stack) == []


@SQLITE
def test_empty_instructions_are_refused_under_the_instructions(
    stack: Stack, bot: BotProcess
) -> None:
    modal = _open(bot)
    answer = _submit(bot, modal, _upload(bot, "rows.csv", csv_rows(3)), todo="   ")
    assert set(answer["errors"]) == {TODO} and "instructions" in answer["errors"][TODO]
    assert bot.slack.calls("file_download") == []  # refused before reading the file
    assert _jobs(stack) == []


@SQLITE
@pytest.mark.parametrize(
    "status, words", [(503, "try again in a minute"), (404, "upload it again")], ids=["503", "404"]
)
def test_slack_failing_to_hand_over_the_file_is_said_in_the_modal(
    stack: Stack, bot: BotProcess, status: int, words: str
) -> None:
    modal = _open(bot)
    bot.slack.fault(method="file_download", status=status, count=1)
    answer = _submit(bot, modal, _upload(bot, "rows.csv", csv_rows(3)))
    assert words in answer["errors"][FILE], answer
    assert _jobs(stack) == []
    again = _submit(bot, modal, _upload(bot, "rows.csv", csv_rows(3)))  # nothing was lost
    assert again == {"ok": True, "status": 200}
    assert len(_jobs(stack)) == 1


def test_the_token_goes_only_to_slack_and_a_sign_in_page_is_never_read_as_rows(
    slack: SlackSandbox,
) -> None:
    """The download itself, against the stand-in: a token Slack refuses lands on its
    sign-in page (a redirect, then HTML), which is refused, never parsed; a URL off
    Slack's hosts is not sent the token at all."""
    content = base64.b64encode(csv_rows(2)).decode()
    file = slack.act("upload", user=ME, name="rows.csv", content_base64=content)["file"]
    with pytest.raises(FileRefused, match="files:read"):
        download(file, "xoxp-not-a-bot-token", slack.api_url, timeout=5)
    with pytest.raises(FileRefused, match="upload it again"):  # never given to the app
        download(file, TOKEN, slack.api_url, timeout=5)
    elsewhere = {**file, "url_private_download": "http://127.0.0.2:9/x.csv"}
    with pytest.raises(FileRefused, match="where to download"):
        download(elsewhere, TOKEN, slack.api_url, timeout=5)
    assert [c["status"] for c in slack.calls("file_download")] == [302, 404]


def test_a_good_200_row_csv_makes_one_batch_job_with_its_card_in_the_channel(
    stack: Stack, bot: BotProcess
) -> None:
    stack.start_worker()
    modal = _open(bot)
    answer = _submit(bot, modal, _upload(bot, "cities.csv", csv_rows(200)))
    assert answer == {"ok": True, "status": 200}  # no errors
    # Read within Slack's three seconds, the modal closes; read later (a busy machine), it
    # shows the wait, then that the job started. Either way the person knows where to look.
    wait_for(
        lambda: _modals(bot) == [] or "Started batch job" in _text(_modals(bot)[0]),
        30,
        "the modal neither closed nor said the job started",
    )
    [job] = _jobs(stack)
    assert (job["kind"], job["lane"], job["requested_by"]) == ("batch", "batch", ME)
    assert job["channel_id"] == "C_GENERAL"
    card = bot.slack.card("C_GENERAL", timeout=30)
    assert job_id_of(card) == job["id"]
    assert "Batch" in card_text(card)
    told = f"Started batch job `{job['id']}` on 200 rows from *cities.csv*"
    wait_for(lambda: any(told in t for t in bot.slack.ephemeral("C_GENERAL", ME)), 10, "no line")

    # The same submission delivered again (a retry, a balancer) makes no second job.
    [delivery] = [d for d in bot.slack.deliveries() if d["type"] == "view_submission"]
    assert bot.signed(signing.interactivity_body(delivery["payload"])).status_code == 200
    assert [j["id"] for j in _jobs(stack)] == [job["id"]]


@SQLITE
def test_a_200_row_csv_through_the_modal_gets_200_answers_in_the_thread(
    stack: Stack, bot: BotProcess
) -> None:
    """End to end: the modal, a real worker, the provider's Batch API stand-in, the results
    file in the card's thread."""
    stack.openai.configure(**QUICK)
    stack.start_worker()
    todo = "Name the river that runs through the city."
    modal = _open(bot, todo)
    assert _submit(bot, modal, _upload(bot, "cities.csv", csv_rows(200)), todo)["status"] == 200
    [job] = _jobs(stack)
    assert stack.wait_status(job["id"], "completed", timeout=90) == "completed"
    comment, lines = results(bot, job["id"])
    assert len(lines) == 200 and list(lines[0]) == ["city", "country", "answer", "error"]
    assert [line["city"] for line in lines] == [f"City {n}" for n in range(1, 201)]
    assert all(line["answer"].strip() and not line["error"] for line in lines)
    assert "200 rows: 200 done, 0 failed" in comment
    assert "200 of 200 rows done" in card_text(bot.slack.card("C_GENERAL"))


@SQLITE
def test_a_slow_download_turns_the_modal_into_a_wait_then_shows_the_job(
    stack: Stack, bot: BotProcess
) -> None:
    modal = _open(bot)
    bot.slack.fault(method="file_download", answer_delay=4, count=1)
    answer = _submit(bot, modal, _upload(bot, "cities.csv", csv_rows(20)))
    assert answer == {"ok": True, "status": 200}
    [waiting] = _modals(bot)
    assert "Reading" in _text(waiting) and not waiting.get("submit")
    wait_for(lambda: "Started batch job" in _text(_modals(bot)[0]), 20, "modal not updated")
    [job] = _jobs(stack)
    assert job["id"] in _text(_modals(bot)[0])


@SQLITE
def test_a_slow_bad_file_shows_the_form_again_with_what_was_wrong(
    stack: Stack, bot: BotProcess
) -> None:
    modal = _open(bot)
    bot.slack.fault(method="file_download", answer_delay=4, count=1)
    _submit(bot, modal, _upload(bot, "rows.csv", b"1,2\n3,4\n"), todo="Keep me.")
    wait_for(lambda: "header row" in _text(_modals(bot)[0]), 20, "modal not updated")
    [form] = _modals(bot)
    blocks = {b.get("block_id"): b for b in form["blocks"]}
    assert blocks[TODO]["element"]["initial_value"] == "Keep me."  # nothing typed is lost
    assert form["submit"] and _jobs(stack) == []
    assert _submit(bot, form, _upload(bot, "rows.csv", csv_rows(5)))["status"] == 200
    assert len(_jobs(stack)) == 1


@SQLITE
def test_a_slow_file_whose_modal_was_closed_is_answered_in_a_message(
    stack: Stack, bot: BotProcess
) -> None:
    modal = _open(bot)
    bot.slack.fault(method="file_download", answer_delay=4, count=1)
    _submit(bot, modal, _upload(bot, "rows.csv", b""))
    bot.slack.act("close", user=ME)
    refused = "Errand could not run rows.csv: That file is empty"
    wait_for(lambda: any(refused in t for t in bot.slack.ephemeral("C_GENERAL", ME)), 20, "none")
    assert _jobs(stack) == []


@SQLITE
@pytest.mark.parametrize("lost", ["archived", "bot not a member"])
def test_a_channel_errand_cannot_post_in_still_gets_the_job_with_its_card_in_a_dm(
    stack: Stack, bot: BotProcess, lost: str
) -> None:
    stack.start_worker()
    channel = "C_GENERAL" if lost == "archived" else "C_NOBOT"
    modal = _open(bot, channel=channel)
    if lost == "archived":
        bot.slack.archive(channel)
    answer = _submit(bot, modal, _upload(bot, "cities.csv", csv_rows(3)))
    assert answer == {"ok": True, "status": 200}
    [job] = _jobs(stack)
    wait_for(lambda: stack.show(job["id"])["channel_id"].startswith("D"), 30, "no DM")
    dm = stack.show(job["id"])["channel_id"]
    wait_for(lambda: bot.slack.cards(dm), 30, "no card in the DM")
