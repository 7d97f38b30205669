"""Downloading a file a person gave Errand in Slack (`url_private_download`).

Slack wants the bot token as `Authorization: Bearer` and the `files:read` scope. It is not
kind when either is missing: no 401, but a redirect to its sign-in page, which answers 200
with HTML. So redirects are never followed and a web page is never taken for the file.
The token is sent only to Slack's own hosts (the Web API's host or one under it, as
files.slack.com is under slack.com), never to another address a payload might name.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from models.errors import InputRejected

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024  # what Slack lets a person upload into a modal's file_input
CHUNK = 64 * 1024
NOT_GIVEN = (
    "Slack would not hand Errand that file (it asked for a sign-in); Errand may be missing "
    "its files:read permission: tell whoever runs Errand."
)

SLOW = "Slack did not hand over that file in time; try again in a minute."


class FileRefused(InputRejected):
    """The file could not be had from Slack, or is too big; the sentence says which."""

    code = "file_refused"


def too_big(size: int) -> FileRefused:
    return FileRefused(
        f"That file is {size / 1_048_576:.1f} MB; a batch file can be at most "
        f"{MAX_BYTES // 1_048_576} MB. Split it into smaller files."
    )


def download(file: dict[str, Any], token: str, api_url: str, *, timeout: float) -> bytes:
    """The file's bytes, or `FileRefused` with a sentence for the person. `timeout` bounds
    the whole download, not only each read."""
    url = str(file.get("url_private_download") or file.get("url_private") or "")
    if not url or not is_slack_host(url, api_url):
        log.warning("batch file has no Slack download URL", extra={"file": file.get("id")})
        raise FileRefused("Slack did not say where to download that file; upload it again.")
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.stream("GET", url, headers=headers, timeout=timeout) as answer:
            _check(answer, file)
            return _read(answer, deadline)
    except httpx.HTTPError as exc:
        log.warning("batch file download failed: %s", type(exc).__name__)
        raise FileRefused(SLOW) from None


def _check(answer: httpx.Response, file: dict[str, Any]) -> None:
    """Refuse anything but the file itself: redirects, error pages, HTML."""
    status, kind = answer.status_code, answer.headers.get("content-type", "")
    if status == 200 and not kind.startswith("text/html"):
        return
    log.warning("batch file not handed over", extra={"file": file.get("id"), "status": status})
    if answer.is_redirect or status in (401, 403) or status == 200:
        raise FileRefused(NOT_GIVEN)
    if status == 404:
        raise FileRefused(
            "That file is gone from Slack, or Errand may not read it; upload it again."
        )
    raise FileRefused(
        f"Slack did not hand over that file just now (it answered {status}); try again in a minute."
    )


def _read(answer: httpx.Response, deadline: float) -> bytes:
    """The body, refused past MAX_BYTES or past the deadline."""
    data = bytearray()
    for chunk in answer.iter_bytes(CHUNK):
        data.extend(chunk)
        if len(data) > MAX_BYTES:
            raise too_big(len(data))
        if time.monotonic() > deadline:
            raise FileRefused(SLOW)
    return bytes(data)


def is_slack_host(url: str, api_url: str) -> bool:
    """The API's own scheme and host, or a host under it (files.slack.com under slack.com)."""
    target, api = urlsplit(url), urlsplit(api_url)
    if target.scheme != api.scheme or not target.hostname or not api.hostname:
        return False
    if target.hostname == api.hostname:
        return target.port == api.port
    return target.hostname.endswith("." + api.hostname)
