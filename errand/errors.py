"""Refusals people can act on; each has a stable `code` and a sentence for the person."""

from __future__ import annotations


class ErrandError(Exception):
    """Base of refusals that are not bugs: the message is safe to show a user."""

    code = "errand_error"


class InputRejected(ErrandError):
    """The request itself is unusable (empty, too long, unknown kind)."""

    code = "input_rejected"


class NotAllowed(ErrandError):
    """The person may not do this to this job."""

    code = "not_allowed"


class AttemptsExhausted(ErrandError):
    """The kind's maximum number of attempts has been used."""

    code = "attempts_exhausted"
