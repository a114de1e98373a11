"""Logins for `tutor serve --users FILE`: sessions, a failure throttle, and the
aiohttp middleware that lets nothing but the login form through without one.

Why a middleware: textual-serve's routes (`/`, `/ws`, `/static`, `/download`) know
nothing of users. A middleware runs before every route, so a route added by a later
textual-serve is covered too, and "no cookie, no process" holds by construction: the
websocket handler that starts the app is never reached.

- Sessions: a random 256-bit token in the cookie `tutor_session` (HttpOnly,
  SameSite=Strict, Secure when the page came over https through a proxy), mapped in
  memory to the learner's name. A server restart logs everybody out; that is fine
  for a class and means no secret is ever written to disk.
- Failures: every wrong login for a name or from an address counts; from the third
  on, the answer is delayed 1, 2, 4, ... seconds (at most `max_delay`), which turns a
  password-guessing run into days. A success clears the name's and address's count.
  A stranger can slow down one learner's logins this way, never lock them out.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from tutor.serve import pages
from tutor.serve.users import authenticate

COOKIE = "tutor_session"
SESSION_SECONDS = 12 * 3600
MAX_TRACKED = 10_000  # names and addresses with recent failures
USER_KEY = web.AppKey("tutor_user", str)


@dataclass
class _Login:
    name: str
    expires: float


class Sessions:
    """token -> learner name, in memory, each valid for `lifetime` seconds."""

    def __init__(self, lifetime: float = SESSION_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self._logins: dict[str, _Login] = {}

    def create(self, name: str) -> str:
        now = self.clock()
        for old in [t for t, login in self._logins.items() if now >= login.expires]:
            del self._logins[old]  # expired logins are dropped, not kept forever
        token = secrets.token_urlsafe(32)
        self._logins[token] = _Login(name, self.clock() + self.lifetime)
        return token

    def user(self, token: str | None) -> str | None:
        if not token:
            return None
        login = self._logins.get(token)
        if login is None:
            return None
        if self.clock() >= login.expires:
            del self._logins[token]
            return None
        return login.name

    def end(self, token: str | None) -> None:
        self._logins.pop(token or "", None)


class FailureThrottle:
    """Counts failed logins per key (name, address) and says how long to wait."""

    def __init__(self, free: int = 2, base: float = 1.0, max_delay: float = 30.0,
                 forget_after: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.base, self.max_delay = free, base, max_delay
        self.forget_after = forget_after
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}

    def _count(self, key: str) -> int:
        count, last = self._failures.get(key, (0, 0.0))
        if count and self.clock() - last > self.forget_after:
            del self._failures[key]
            return 0
        return count

    def delay(self, *keys: str) -> float:
        """Seconds to wait before answering the next attempt for these keys."""
        count = max((self._count(k) for k in keys), default=0)
        if count == 0 or count < self.free:
            return 0.0
        return min(self.base * 2 ** (count - self.free), self.max_delay)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        if len(self._failures) > MAX_TRACKED:  # made-up names must not fill the memory
            self._failures = {k: v for k, v in self._failures.items()
                              if now - v[1] <= self.forget_after}
            if len(self._failures) > MAX_TRACKED:  # all recent: keep the newer half
                newest = sorted(self._failures.items(), key=lambda kv: kv[1][1])
                self._failures = dict(newest[-(MAX_TRACKED // 2):])
        for key in keys:
            self._failures[key] = (self._count(key) + 1, now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)


def _is_https(request: web.Request) -> bool:
    return request.headers.get("X-Forwarded-Proto", request.scheme).lower() == "https"


class Auth:
    """The login routes and the middleware, for one users table."""

    def __init__(self, users: dict[str, str], throttle: FailureThrottle | None = None,
                 sessions: Sessions | None = None) -> None:
        self.users = users
        self.throttle = throttle or FailureThrottle()
        self.sessions = sessions or Sessions()

    def install(self, app: web.Application) -> None:
        app.router.add_get("/login", self.get_login)
        app.router.add_post("/login", self.post_login)
        app.router.add_post("/logout", self.post_logout)
        app.middlewares.append(self.middleware)

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        if request.path == "/login":
            return await handler(request)
        name = self.sessions.user(request.cookies.get(COOKIE))
        if name is None:
            if request.path == "/" and request.method == "GET":
                raise web.HTTPSeeOther("/login")
            return web.Response(status=401, text="401: log in first at /login\n")
        request[USER_KEY] = name
        return await handler(request)

    async def get_login(self, request: web.Request) -> web.Response:
        return web.Response(text=pages.login_page(), content_type="text/html")

    async def post_login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name = str(form.get("name", "")).strip()
        password = str(form.get("password", ""))
        keys = (f"name:{name}", f"addr:{request.remote}")
        wait = self.throttle.delay(*keys)
        if wait:
            await asyncio.sleep(wait)
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(None, authenticate, self.users, name, password)
        if not ok:
            self.throttle.failed(*keys)
            return web.Response(status=401, text=pages.login_page(error=True, name=name),
                                content_type="text/html")
        self.throttle.succeeded(*keys)
        response = web.HTTPSeeOther("/")
        response.set_cookie(COOKIE, self.sessions.create(name), httponly=True,
                            samesite="Strict", secure=_is_https(request), path="/")
        return response

    async def post_logout(self, request: web.Request) -> web.StreamResponse:
        self.sessions.end(request.cookies.get(COOKIE))
        response = web.HTTPSeeOther("/login")
        response.del_cookie(COOKIE, path="/")
        return response
