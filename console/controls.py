"""Cancel and Retry from the console: the buttons' rules and store functions, the
console's operator as the actor, and every press audited as the buttons' are."""

from __future__ import annotations

from collections.abc import Callable

import flask
from werkzeug.wrappers import Response

from console.config import ConsoleConfig
from console.pages import render_job
from models.errors import ErrandError, TransitionRefused
from models.store import actions, queries, stops

# The buttons' action IDs (CONTRACT.md): the audit rows read the same from either.
CANCEL, RETRY = "job_cancel", "job_retry"
WHY = {
    CANCEL: "only jobs waiting for approval, queued or running can be canceled",
    RETRY: "only failed, canceled or expired jobs can be retried",
}


def register(app: flask.Flask, config: ConsoleConfig) -> None:
    @app.post("/jobs/<job_id>/cancel")
    def cancel(job_id: str) -> Response:
        return _act(config, job_id, CANCEL, lambda: _cancel(config, job_id))

    @app.post("/jobs/<job_id>/retry")
    def retry(job_id: str) -> Response:
        return _act(config, job_id, RETRY, lambda: _retry(config, job_id))


def _cancel(config: ConsoleConfig, job_id: str) -> str:
    outcome = stops.request_cancel(config.db, config.dispatch, job_id, actor=config.actor)
    return outcome.replace(" ", "_")


def _retry(config: ConsoleConfig, job_id: str) -> str:
    actions.request_retry(config.db, config.kinds, job_id, actor=config.actor)
    return "retried"


def _act(config: ConsoleConfig, job_id: str, action: str, do: Callable[[], str]) -> Response:
    """Do it and show the job (303 to its page); a refusal shows the page with the reason
    (409). Either way the press is recorded with its outcome."""
    job = queries.get_job(config.db, job_id)
    try:
        done = do()
    except TransitionRefused as refused:
        sentence = f"{_stale(refused)} {WHY[action]}; nothing changed."
        return _refused(config, job.id, action, "stale", sentence)
    except ErrandError as refused:
        return _refused(config, job.id, action, "refused", str(refused))
    actions.record_press(config.db, job.id, actor=config.actor, action=action, detail=f"ok: {done}")
    return flask.redirect(flask.url_for("job", job_id=job.id, done=done), 303)


def _stale(refused: TransitionRefused) -> str:
    return f"Job {refused.job_id} is {refused.current.value.replace('_', ' ')};"


def _refused(
    config: ConsoleConfig, job_id: str, action: str, outcome: str, sentence: str
) -> Response:
    detail = f"{outcome}: {sentence}"
    actions.record_press(config.db, job_id, actor=config.actor, action=action, detail=detail)
    return flask.make_response(render_job(config, job_id, said=sentence, refused=True), 409)
