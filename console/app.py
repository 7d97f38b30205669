"""The console's Flask app: what it is given, its routes, its guard."""

from __future__ import annotations

from pathlib import Path

import flask
from werkzeug.wrappers import Response

from console import auth, controls, pages
from console.config import ConsoleConfig
from models.errors import JobNotFound

HERE = Path(__file__).parent


def create_app(config: ConsoleConfig) -> flask.Flask:
    """Pages (jobs, one job, overview), Cancel and Retry, the login form; every request
    checked by the guard first."""
    app = flask.Flask(
        "console",
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
        static_url_path="/static",
    )
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    guard = auth.Guard.for_token(config.token)
    auth.install(app, guard)
    app.context_processor(lambda: {"operator": config.actor, "login": config.token is not None})
    _login(app, guard)
    pages.register(app, config)
    controls.register(app, config)
    app.register_error_handler(JobNotFound, _missing)
    return app


def _login(app: flask.Flask, guard: auth.Guard) -> None:
    @app.get("/login", endpoint="login_form")
    def login_form() -> Response:
        if guard.token is None:
            return flask.redirect("/", 303)
        return auth.login_page(200)

    @app.post("/login", endpoint="login")
    def login() -> Response:
        return auth.log_in(guard)

    @app.post("/logout")
    def logout() -> Response:
        return auth.log_out()


def _missing(error: JobNotFound) -> Response:
    return auth.refuse(404, f"There is no job {error.job_id[:20]}.")
