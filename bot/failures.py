"""What a person is told when their request fails: one sentence, never a stack trace.

Shared by Bolt's error handler (failures before the ack) and the lazy listeners
(failures after it), so both paths say and count the same thing.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable
from typing import Any

from bot.metrics import ERRORS
from models.db import unavailable
from models.errors import ErrandError
from models.notifier import NotifyLater

log = logging.getLogger(__name__)


def explain(error: Exception) -> str:
    """Known refusals become their sentence; anything else a reference an operator can grep."""
    if isinstance(error, ErrandError):
        code, text = error.code, str(error)
    elif isinstance(error, NotifyLater):
        code, text = "slack_busy", "Slack is busy right now; please try again in a minute."
    elif unavailable(error):
        code = "database_unavailable"
        text = (
            "Errand's database is not answering right now, so nothing was done; "
            f"please try again in a minute (ref `{_logged(error)}`)."
        )
    else:
        code = "unexpected"
        text = f"Something went wrong on Errand's side (ref `{_logged(error)}`)."
    ERRORS.labels(code).inc()
    return text


def _logged(error: Exception) -> str:
    """A reference the person can quote and the operator can find in the log."""
    ref = secrets.token_hex(4)
    log.error("listener failed (ref %s)", ref, exc_info=error, extra={"ref": ref})
    return ref


def tell(respond: Callable[..., Any] | None, text: str) -> None:
    """An ephemeral sentence to whoever made the request, when Slack gave a way back."""
    if respond is None:
        return
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception:  # the person may not be reachable; the log has the error already
        log.warning("could not deliver an error message", exc_info=True)


def answering(listener: Callable[..., None]) -> Callable[..., None]:
    """A lazy listener that tells the person when it fails.

    Bolt runs lazy listeners after the ack and only logs their exceptions; this
    gives them the error handler's answer. The signature is kept (`wraps`), so
    Bolt still injects the arguments the listener names.
    """

    @functools.wraps(listener)
    def run(**kwargs: Any) -> None:
        try:
            listener(**kwargs)
        except Exception as error:
            tell(kwargs.get("respond"), explain(error))

    return run
