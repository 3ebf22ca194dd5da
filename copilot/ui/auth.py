"""Every HTTP request to the web UI needs a credential, loopback included (as Jupyter does).

Two modes, both enforced by :class:`AuthGate`, an ASGI middleware wrapped around the whole
Gradio app (page, ``/config``, ``/gradio_api/*``, queue, uploads, file downloads):

- **token** (the default): a random token is made at start and printed in the start-up URL
  ``http://HOST:PORT/?token=...``. A request carries it as ``?token=``, as an
  ``Authorization: Bearer``/``token`` header, or in the cookie the gate sets the first time the
  page is opened with the token (the browser then drops it from the address bar).
- **password** (``--auth user:password``): HTTP Basic credentials, checked in constant time.

Anything else gets 401 and one sentence. The only open path is Gradio's own start-up
trigger, which the server calls on itself once and which does nothing after that.

Cookies do not separate ports, and Gradio's CORS middleware grants any localhost origin
credentialed access, so a page served on another local port could otherwise use the cookie.
The gate therefore refuses (403) every request whose ``Origin`` header is not the app's own
``scheme://host:port`` or whose ``Sec-Fetch-Site`` is ``cross-site``/``same-site``, and it
moves itself outside Gradio's middleware when the server starts (the lifespan event, before
the first request), so foreign preflights get 403 before Gradio's CORS layer answers them.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]
OPEN_PATHS = frozenset({"/gradio_api/startup-events"})
FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})
COOKIE_PREFIX = "rlcopilot-token-"


@dataclass(frozen=True)
class Access:
    """What a request must show: a token, or a user and password."""

    token: str = field(default="", repr=False)
    user: str = ""
    password: str = field(default="", repr=False)

    @property
    def mode(self) -> str:
        return "password" if self.user else "token"

    @classmethod
    def with_token(cls) -> "Access":
        return cls(token=secrets.token_urlsafe(32))

    def start_url(self, host: str, port: int) -> str:
        """The URL to open: with the token in it in token mode."""
        shown = f"[{host}]" if ":" in host else host
        base = f"http://{shown}:{port}/"
        return f"{base}?token={self.token}" if self.mode == "token" else base


def _same(given: str, wanted: str) -> bool:
    return bool(wanted) and secrets.compare_digest(given.encode("utf-8", "replace"), wanted.encode("utf-8"))


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookie_name(scope: Scope) -> str:
    server = scope.get("server") or ("", 0)
    return f"{COOKIE_PREFIX}{server[1] if len(server) > 1 else 0}"


def _own_origin(scope: Scope, headers: dict[str, str]) -> str:
    """``scheme://host:port`` the request was sent to (its Host header, on the port served)."""
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    host = headers.get("host", "")
    server = scope.get("server") or ("", 0)
    port = str(server[1]) if len(server) > 1 else ""
    if not host.rpartition(":")[2] == port or "]" in host.rpartition(":")[2]:
        return ""  # a Host without the served port cannot name this app
    return f"{scheme}://{host}"


def foreign(scope: Scope) -> bool:
    """Whether a browser sent the request from a page of another origin."""
    headers = _headers(scope)
    if headers.get("sec-fetch-site", "").strip().lower() in FOREIGN_FETCH_SITES:
        return True
    origin = headers.get("origin")
    return origin is not None and origin.strip().lower() != _own_origin(scope, headers).lower()


class AuthGate:
    """ASGI middleware refusing every request without the server's credential (401) or sent
    from another origin (403)."""

    def __init__(self, app: ASGIApp, access: Access, outermost: bool = False) -> None:
        self.app = app
        self.access = access
        self.outermost = outermost
        self.hoisted = False

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan" and not self.outermost:
            self._hoist(scope.get("app"))
        if scope["type"] not in ("http", "websocket") or self.hoisted:
            await self.app(scope, receive, send)  # not a request, or checked by the outer gate
            return
        if foreign(scope):
            await self.refuse(scope, send, status=403)
            return
        if scope["type"] == "http" and scope.get("method") == "GET" and scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        verdict = self.check(scope)
        if verdict is None:
            await self.refuse(scope, send)
        elif verdict == "query" and scope["type"] == "http":
            await self.app(scope, receive, self._with_cookie(scope, send))
        else:
            await self.app(scope, receive, send)

    def _hoist(self, server: Any) -> None:
        """Wrap the server's whole middleware stack (CORS included) in a gate of its own."""
        stack = getattr(server, "middleware_stack", None)
        if stack is not None and not (isinstance(stack, AuthGate) and stack.outermost):
            server.middleware_stack = AuthGate(stack, self.access, outermost=True)
            self.hoisted = True

    def check(self, scope: Scope) -> str | None:
        """How the request proved itself (``header``, ``cookie``, ``query``), or None."""
        headers = _headers(scope)
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if self.access.mode == "password":
            return "header" if scheme.lower() == "basic" and self._basic_ok(value.strip()) else None
        if scheme.lower() in ("bearer", "token") and _same(value.strip(), self.access.token):
            return "header"
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header proves nothing
            cookie = SimpleCookie()
        morsel = cookie.get(_cookie_name(scope))
        if morsel is not None and _same(morsel.value, self.access.token):
            return "cookie"
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if _same(query.get("token", ""), self.access.token):
            return "query"
        return None

    def _basic_ok(self, value: str) -> bool:
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        # Both compared every time, so the timing does not tell which one was wrong.
        good_user, good_password = _same(user, self.access.user), _same(password, self.access.password)
        return bool(sep) and good_user and good_password

    def _with_cookie(self, scope: Scope, send: Callable) -> Callable:
        """``send`` that also stores the token in a cookie, so the page's own calls carry it."""
        value = (f"{_cookie_name(scope)}={self.access.token}; Path=/; HttpOnly; SameSite=Strict")

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []),
                                                 (b"set-cookie", value.encode("latin-1"))])
            await send(message)

        return sending

    async def refuse(self, scope: Scope, send: Callable, status: int = 401) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        extra: list[tuple[bytes, bytes]] = []
        if status == 403:
            text = ("This RL Copilot server answers only its own pages: the request came from another "
                    "origin (Origin or Sec-Fetch-Site header).")
        elif self.access.mode == "password":
            text = "This RL Copilot server needs the user name and password it was started with."
            extra = [(b"www-authenticate", b'Basic realm="RL Copilot", charset="UTF-8"')]
        else:
            text = ("This RL Copilot server needs its access token: open the URL with ?token= that it "
                    "printed at start-up, or send the token as an 'Authorization: Bearer' header.")
        body = text.encode("utf-8")
        headers = [(b"content-type", b"text/plain; charset=utf-8"),
                   (b"content-length", str(len(body)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

