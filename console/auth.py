"""Who may use the console, and proof that a form came from the console's own page.

With ERRAND_CONSOLE_TOKEN set, every request shows the token: in an `Authorization:
Bearer …` header (scripts), or once in the login form, which sets a session cookie
(HttpOnly, SameSite=Strict) signed with a key derived from the token, so rotating the
token ends every session. A session lasts SESSION_SECONDS from its login: the time is
in the signed cookie, so a cookie copied off a machine stops working by itself.

Without a token the console listens only on loopback (`errand console` refuses any other
host) and whoever reaches it is the operator.

Without a token it also answers only requests addressed to a loopback name: a page
elsewhere whose name was made to point at 127.0.0.1 (DNS rebinding) reads nothing.

Either way every POST carries the session's CSRF token in its form, and an `Origin`, when
the browser sends one, must be the console itself: a page elsewhere cannot make the
operator's browser cancel a job. A Bearer request needs neither (browsers never add
that header by themselves). Tokens and signatures are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import flask
from werkzeug.wrappers import Response

COOKIE = "errand_console"
SESSION_SECONDS = 12 * 3600  # a working day and then some: then the token is asked again
OPEN = frozenset({"static", "login", "login_form"})  # reachable before logging in


@dataclass(frozen=True)
class Guard:
    """The token (None: loopback only) and the key that signs sessions and CSRF tokens."""

    token: str | None
    key: bytes

    @classmethod
    def for_token(cls, token: str | None) -> Guard:
        """A key from the token (sessions outlive a restart), else a fresh one per process."""
        if token is None:
            return cls(None, secrets.token_bytes(32))
        return cls(token, hmac.digest(token.encode(), b"errand console sessions", "sha256"))

    def sign(self, purpose: str, nonce: str) -> str:
        return hmac.new(self.key, f"{purpose}:{nonce}".encode(), hashlib.sha256).hexdigest()

    def new_session(self) -> tuple[str, str]:
        """(nonce, cookie value) of a fresh session; the nonce carries when it began."""
        nonce = f"{secrets.token_urlsafe(18)}~{int(time.time())}"
        return nonce, f"{nonce}.{self.sign('session', nonce)}"

    def session(self, cookie: str | None) -> str | None:
        """The nonce of a cookie this console signed within SESSION_SECONDS, else None."""
        nonce, _, mac = (cookie or "").partition(".")
        good = bool(nonce) and hmac.compare_digest(
            mac.encode(), self.sign("session", nonce).encode()
        )
        began = nonce.rpartition("~")[2]
        fresh = began.isdigit() and time.time() - int(began) <= SESSION_SECONDS
        return nonce if good and fresh else None

    def token_ok(self, offered: str | None) -> bool:
        """The token, compared in constant time; always False without one."""
        if self.token is None or offered is None:
            return False
        return hmac.compare_digest(offered.encode(), self.token.encode())

    def bearer_ok(self, header: str | None) -> bool:
        scheme, _, value = (header or "").partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(value.strip())

    def csrf(self, nonce: str | None) -> str:
        return self.sign("csrf", nonce) if nonce else ""


def install(app: flask.Flask, guard: Guard) -> None:
    """Check every request before its view; set the session cookie and headers after."""
    app.before_request(lambda: _check(guard))
    app.after_request(_finish)
    app.context_processor(lambda: {"csrf": guard.csrf(flask.g.get("nonce"))})


def _check(guard: Guard) -> Response | None:
    """None lets the request through; else the refusal."""
    request = flask.request
    if guard.token is None and not loopback_name(request.host):
        return refuse(403, "Without a token the console answers only at a loopback address.")
    flask.g.bearer = guard.bearer_ok(request.headers.get("Authorization"))
    flask.g.nonce = guard.session(request.cookies.get(COOKIE))
    if guard.token is None and flask.g.nonce is None:  # loopback: a session for the asking
        flask.g.nonce, flask.g.new_cookie = guard.new_session()
    if request.method == "POST" and not _same_origin():
        return refuse(403, "This form was not sent from the console's own page.")
    if request.endpoint in OPEN:
        return None
    if guard.token is not None and not (flask.g.bearer or flask.g.nonce):
        return login_page(401)
    if request.method == "POST" and not flask.g.bearer and not _csrf_ok(guard):
        return refuse(403, "The form has expired; reload the page and try again.")
    return None


def loopback_name(host: str) -> bool:
    """`localhost`, 127.0.0.0/8 or ::1, with or without a port (`[::1]:8900`); never
    0.0.0.0, which is every interface."""
    bare_ipv6 = host.count(":") > 1 and not host.startswith("[")
    name = host if bare_ipv6 else urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _same_origin() -> bool:
    """No Origin (and no Referer) is a script, judged by its token; one that names
    another site is refused."""
    request = flask.request
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.host


def _csrf_ok(guard: Guard) -> bool:
    offered = str(flask.request.form.get("csrf") or "")
    expected = guard.csrf(flask.g.get("nonce"))
    return bool(expected) and hmac.compare_digest(offered.encode(), expected.encode())


def refuse(status: int, sentence: str) -> Response:
    body = flask.render_template("refused.html", sentence=sentence)
    return flask.make_response(body, status)


def login_page(status: int, *, wrong: bool = False) -> Response:
    """The login form, with 401 and a Bearer challenge for whoever has no token yet; it
    leads back to the page asked for."""
    request = flask.request
    wanted = request.full_path if request.method == "GET" else request.form.get("next")
    body = flask.render_template("login.html", next=safe_next(wanted), wrong=wrong)
    response = flask.make_response(body, status)
    response.headers["WWW-Authenticate"] = 'Bearer realm="errand console"'
    return response


def safe_next(path: str | None) -> str:
    """Where to go after logging in: a path on this console, never another site."""
    path = (path or "/").rstrip("?")
    if not path.startswith("/") or path.startswith(("//", "/\\")):
        return "/"
    return path


def log_in(guard: Guard) -> Response:
    """The login form's POST: the right token starts a session; a wrong one is told so."""
    if not guard.token_ok(str(flask.request.form.get("token") or "")):
        return login_page(401, wrong=True)
    nonce, cookie = guard.new_session()
    flask.g.nonce, flask.g.new_cookie = nonce, cookie
    return flask.redirect(safe_next(flask.request.form.get("next")), 303)


def log_out() -> Response:
    response = flask.redirect("/", 303)
    response.delete_cookie(COOKIE, path="/")
    flask.g.new_cookie = None
    return response


def _finish(response: Response) -> Response:
    """The new session's cookie, and headers that keep pages private and inert."""
    cookie = flask.g.get("new_cookie")
    if cookie:
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="Strict",
            secure=flask.request.is_secure,
            path="/",
        )
    headers = response.headers
    headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers.setdefault("Cache-Control", "no-store")
    return response
