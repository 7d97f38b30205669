"""A local stand-in for OpenAI's Responses, Files and Batch APIs, spoken to by the real SDK.

Errand's worker, tests, benchmarks and sandbox demo point
``OpenAI(base_url="http://127.0.0.1:PORT/v1", api_key="sk-sandbox")`` here instead of at
api.openai.com, so long background responses, failures, cancellation, streaming, batches and
webhooks can all be exercised offline, quickly and deterministically. The rule: it is no
kinder than the real service; where the API promises nothing, it assumes the worst.

OpenAI endpoints (shapes follow OpenAI's OpenAPI description; every call needs a bearer key):

* ``POST /v1/responses`` -- create; ``background: true`` answers at once with ``queued``;
  ``stream: true`` answers with Server-Sent Events; a foreground create blocks until done.
  ``Idempotency-Key`` is ignored (OpenAI documents none) unless ``honour_idempotency_key``.
  ``service_tier``, ``max_output_tokens``, ``previous_response_id`` and web search tools
  behave as upstream (``sandbox.openai_responses``, ``sandbox.openai_validate``).
* ``GET /v1/responses/{id}`` -- retrieve; ``?stream=true&starting_after=N`` resumes the
  events of a background response created with ``stream: true``, within a window.
* ``POST /v1/responses/{id}/cancel`` -- cancel while queued/in progress (idempotent).
* ``/v1/files`` and ``/v1/batches`` -- see ``sandbox.openai_batch_routes``.

Status is lazy: ``queued`` for the queue time, ``in_progress`` until the duration has passed,
then the scenario's outcome. Scenarios come from directives typed into the input text
(full grammar in ``sandbox.openai_scenario``)::

    [sandbox: duration=SECONDS queue=SECONDS chars=N slow fail[=CODE] incomplete[=REASON]]

Every answer carries ``x-request-id`` and the ``x-ratelimit-*`` headers of the configured
budgets (``sandbox.openai_ratelimit``). The control API under ``/_sandbox`` (not OpenAI's)
sets defaults (``config``, fields of ``sandbox.openai_settings``), injects faults
(``faults``, ``sandbox.openai_faults``), and reads back what the client did (``stats`` with
per-job orphans, ``responses``, ``requests``); see ``sandbox.openai_control``.

Run it as a process: ``python -m sandbox.openai_api --port 8089`` (``--port 0`` picks a free
port; the first stdout line gives the base URL). In-process: ``start_in_thread()``.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

from sandbox.openai_batch_routes import batches_api
from sandbox.openai_control import control
from sandbox.openai_faults import DroppedConnection
from sandbox.openai_http import ResettingApp, begin_api_call, error, finish_api_call
from sandbox.openai_routes import responses_api
from sandbox.openai_settings import SandboxOpenAISettings
from sandbox.openai_state import SandboxState

__all__ = [
    "RunningSandbox",
    "SandboxOpenAISettings",
    "create_app",
    "main",
    "make_sandbox_server",
    "serve",
    "start_in_thread",
]


def create_app(settings: SandboxOpenAISettings | None = None) -> Flask:
    """A fresh stand-in with its own in-memory state (``app.extensions["sandbox_openai"]``)."""
    app = Flask(__name__)
    app.extensions["sandbox_openai"] = SandboxState(settings or SandboxOpenAISettings())
    app.register_blueprint(responses_api)
    app.register_blueprint(batches_api)
    app.register_blueprint(control)
    app.register_error_handler(HTTPException, _http_error)
    app.before_request(begin_api_call)
    app.after_request(finish_api_call)
    return app


def _http_error(exc: HTTPException) -> Response:
    """Unknown routes and methods answer in OpenAI's error shape, not Flask's HTML."""
    status = exc.code or 500
    if status in (404, 405):
        return error(status, f"Invalid URL ({request.method} {request.path})")
    return error(status, exc.description or "Error", type_="server_error")


# -- serving ----------------------------------------------------------------------------------


class _KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1, so a client's connection serves many requests, as the real API's does.

    Under HTTP/1.0 werkzeug closed every connection: each provider call in a test or a
    benchmark paid a TCP handshake and a new server thread, which OpenAI does not charge.
    Streamed responses go out chunked.
    """

    protocol_version = "HTTP/1.1"

    def connection_dropped(
        self, error: BaseException, environ: WSGIEnvironment | None = None
    ) -> None:
        """Close a connection cut mid-answer, with a reset if a fault cut it on purpose.

        Left open, the handler would wait for the client's next request while the client
        waits for the rest of this answer.
        """
        self.close_connection = True
        if isinstance(error, DroppedConnection):
            linger = struct.pack("ii", 1, 0)  # close() then sends RST, not FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)


class _QuietHandler(_KeepAliveHandler):
    """Skips per-request access logs, which would cost more than the requests themselves."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Intentionally silent."""


def make_sandbox_server(
    host: str = "127.0.0.1",
    port: int = 0,
    settings: SandboxOpenAISettings | None = None,
    *,
    quiet: bool = True,
) -> BaseWSGIServer:
    """A threaded werkzeug server around a fresh app; ``port=0`` picks a free port."""
    return _bind(create_app(settings), host, port, quiet)


def _bind(app: Flask, host: str, port: int, quiet: bool) -> BaseWSGIServer:
    handler = _QuietHandler if quiet else _KeepAliveHandler
    wrapped = ResettingApp(app)
    return make_server(host, port, wrapped, threaded=True, request_handler=handler)


@dataclass
class RunningSandbox:
    """A stand-in serving from a background thread, for tests and in-process demos."""

    app: Flask
    state: SandboxState
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        """Server root, under which ``/_sandbox/...`` lives."""
        return _reachable_url(self.server)

    @property
    def base_url(self) -> str:
        """What to pass as ``OpenAI(base_url=...)``."""
        return f"{self.url}/v1"

    def stop(self) -> None:
        """Stop serving and stop the webhook thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.state.close()


def _reachable_url(server: BaseWSGIServer) -> str:
    """Clients cannot dial 0.0.0.0, so announce loopback for wildcard binds."""
    host = "127.0.0.1" if server.host in ("0.0.0.0", "") else server.host
    return f"http://{host}:{server.port}"


def start_in_thread(
    host: str = "127.0.0.1", port: int = 0, settings: SandboxOpenAISettings | None = None
) -> RunningSandbox:
    """Serve on a daemon thread and return at once; call ``stop()`` when done."""
    app = create_app(settings)
    server = _bind(app, host, port, quiet=True)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},  # so stop() returns promptly
        name="sandbox-openai",
        daemon=True,
    )
    thread.start()
    return RunningSandbox(app, app.extensions["sandbox_openai"], server, thread)


def serve(
    host: str = "127.0.0.1",
    port: int = 8089,
    settings: SandboxOpenAISettings | None = None,
    *,
    quiet: bool = True,
) -> None:
    """Serve until interrupted, announcing the base URL on stdout first."""
    server = make_sandbox_server(host, port, settings, quiet=quiet)
    print(f"sandbox OpenAI API listening on {_reachable_url(server)}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _parser() -> argparse.ArgumentParser:
    defaults = SandboxOpenAISettings()
    parser = argparse.ArgumentParser(prog="python -m sandbox.openai_api", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089, help="0 picks a free port")
    parser.add_argument("--duration-min", type=float, default=defaults.duration_min)
    parser.add_argument("--duration-max", type=float, default=defaults.duration_max)
    parser.add_argument("--queue-seconds", type=float, default=defaults.queue_seconds)
    parser.add_argument("--chars", type=int, default=None, help="default answer length")
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--webhook-secret", default=None, help="whsec_<base64>")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m sandbox.openai_api --port N``."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    settings = SandboxOpenAISettings(
        duration_min=args.duration_min,
        duration_max=args.duration_max,
        queue_seconds=args.queue_seconds,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        default_chars=args.chars,
    )
    serve(args.host, args.port, settings, quiet=not args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
