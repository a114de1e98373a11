"""`tutor serve`: textual-serve with logins, per-learner state, limits and clean ends.

textual-serve (Textualize's) serves a page whose terminal emulator talks over a
websocket; per websocket it starts one app process with Textual's web driver and
relays bytes. This module keeps that and changes what a class server needs:

- Processes: each tab's app is started with `exec` (no shell), in a session of its
  own (its own process group, so the app's kernel and checkpoints go with it), with
  `TUTOR_STATE_DIR=<state>/<name>` so progress and edited cells are the learner's
  own. Ending a session asks the app to quit (it saves progress), waits up to
  `QUIT_GRACE` seconds, then SIGKILLs the whole group and every other descendant
  (a kernel's zygote runs in a session of its own). The app also gets
  PR_SET_PDEATHSIG (tutor/serve/child.py), so a server killed with SIGKILL still
  takes every app with it.
- Limits: at most `max_sessions` apps at once; past that `/` shows a "server full"
  page and `/ws` answers 503, starting nothing. A session with no key or mouse input
  for `idle_seconds` is ended (the page then shows textual-serve's "Session ended"
  with a Restart button).
- Logins (`auth.Auth`) when a users table is given; the websocket must also come
  from this server's own page (its Origin header names this host), so another site
  cannot open a session with the learner's cookie.
- URLs in the page are made from the request's Host (and `X-Forwarded-Proto` from a
  TLS proxy), so the page works through SSH port forwarding on any local port and
  behind a reverse proxy. The page's link to a web font elsewhere is dropped: the
  browser fetches nothing but this server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from tutor.serve import pages
from tutor.serve.auth import USER_KEY, Auth

log = logging.getLogger("tutor.serve")

QUIT_GRACE = 3.0
MIN_SIZE = (80, 24)
# textual-serve's page links a web font from elsewhere: dropped, so that the browser
# contacts nothing but this server (and the page works offline).
_LINK = re.compile(r"<link\b[^>]*\bhref=\"(https?://[^\"]*)\"[^>]*>", re.IGNORECASE)


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (children, theirs, ...), from /proc; [] elsewhere."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children") as handle:
                    kids = [int(x) for x in handle.read().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


class LearnerApp(AppService):
    """One tab's app process, started without a shell in its own process group."""

    def __init__(self, argv: list[str], extra_env: dict[str, str], **kwargs) -> None:
        super().__init__(" ".join(argv), **kwargs)
        self.argv = argv
        self.extra_env = extra_env
        self.started_at = time.monotonic()
        self.last_input = self.started_at

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width, height)
        env.update(self.extra_env)
        return env

    async def _open_app_process(self, width: int = 80, height: int = 24):
        env = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True,
        )
        self._stdin = process.stdin
        return process

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def send_bytes(self, data: bytes) -> bool:
        self.last_input = time.monotonic()
        return await super().send_bytes(data)

    async def stop(self) -> None:
        """Ask the app to quit, then end its whole process group whatever it did."""
        try:
            await asyncio.wait_for(super().stop(), QUIT_GRACE)
        except (asyncio.TimeoutError, Exception):  # a hung or dead app: killed below
            pass
        self._task = None
        process = self._process
        if process is None:
            return
        # The group holds the app and what it started in it; a kernel's zygote runs in a
        # session of its own (it must outlive nothing but the app), so the app's other
        # descendants are found in /proc and killed too, before the app's death
        # re-parents them.
        others = descendants(process.pid)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            await asyncio.wait_for(process.wait(), QUIT_GRACE)
        except asyncio.TimeoutError:
            log.error("app process %s did not end after SIGKILL", process.pid)


@dataclass
class ServeOptions:
    """What `tutor serve` was asked for (already validated by the command)."""

    host: str = "127.0.0.1"
    port: int = 8000
    users: dict[str, str] | None = None  # None: no logins (loopback only)
    local_name: str = "local"            # the learner's name without logins
    state_dir: Path | None = None        # None: the server user's own XDG state
    max_sessions: int = 20
    idle_seconds: float = 30 * 60
    app_args: list[str] = field(default_factory=list)  # e.g. ["--lang", "ko"]


class TutorServer(Server):
    """textual-serve's Server with the changes above (see the module docstring)."""

    def __init__(self, options: ServeOptions) -> None:
        super().__init__("tutor", host=options.host, port=options.port, title="tutor")
        self.options = options
        self.auth = Auth(options.users) if options.users is not None else None
        self.apps: set[LearnerApp] = set()
        self._starting = 0  # websockets accepted whose app is not in self.apps yet

    # ------------------------------------------------------------------ the aiohttp app

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        if self.auth is not None:
            self.auth.install(app)
        return app

    def initialize_logging(self) -> None:
        logging.basicConfig(level="INFO", format="%(asctime)s %(name)s %(message)s")

    async def on_startup(self, app: web.Application) -> None:
        """Nothing to print yet: the port is bound after this (see serve())."""

    def _announce(self, _message: str) -> None:
        where = f"http://{self.host}:{self.port}"
        logins = "with logins" if self.auth else "without logins (loopback only)"
        print(f"tutor serve: {where} {logins}; Ctrl+C stops it", flush=True)

    def serve(self, debug: bool = False) -> None:
        """Run until SIGINT/SIGTERM; then every session's processes are ended.

        As textual-serve's serve(), but the line saying where it listens is printed
        once the port is bound (aiohttp's `print` hook), never before a bind fails."""
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False,
                    loop=loop, print=self._announce)

    async def on_shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(a.stop() for a in list(self.apps)), return_exceptions=True)

    # ------------------------------------------------------------------ helpers

    def learner(self, request: web.Request) -> str:
        return request.get(USER_KEY, self.options.local_name)

    def session_count(self) -> int:
        return len(self.apps) + self._starting

    def _full(self) -> bool:
        return self.session_count() >= self.options.max_sessions

    def _full_response(self) -> web.Response:
        return web.Response(status=503, text=pages.full_page(self.options.max_sessions),
                            content_type="text/html")

    def _learner_env(self, name: str) -> dict[str, str]:
        env = {"TUTOR_SERVE_PID": str(os.getpid())}
        if self.options.state_dir is not None:
            learner_dir = self.options.state_dir / name
            learner_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(learner_dir, 0o700)
            env["TUTOR_STATE_DIR"] = str(learner_dir)
        return env

    def _app_argv(self) -> list[str]:
        return [sys.executable, "-m", "tutor.serve.child", *self.options.app_args]

    @staticmethod
    def _base_urls(request: web.Request) -> tuple[str, str]:
        """(http base, websocket base) as the browser reached this server."""
        https = request.headers.get("X-Forwarded-Proto", request.scheme).lower() == "https"
        host = request.host
        return (f"{'https' if https else 'http'}://{host}", f"{'wss' if https else 'ws'}://{host}")

    # ------------------------------------------------------------------ routes

    async def handle_index(self, request: web.Request) -> web.Response:
        if self._full():
            return self._full_response()
        http_base, ws_base = self._base_urls(request)
        font_size = to_int(request.query.get("fontsize", "16"), 16)
        context = {
            "font_size": font_size,
            "app_websocket_url": f"{ws_base}/ws",
            "config": {"static": {"url": f"{http_base}/static/"}},
            "application": {"name": "tutor"},
        }
        html = aiohttp_jinja2.render_string("app_index.html", request, context)
        html = _LINK.sub(lambda m: m.group(0) if m.group(1).startswith(f"{http_base}/") else "",
                         html)
        return web.Response(text=html, content_type="text/html")

    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:  # not a browser page (a script with the cookie): allowed
            return True
        return urlsplit(origin).netloc == request.host

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            return web.Response(status=403, text=pages.forbidden_page(), content_type="text/html")
        if self._full():
            return self._full_response()
        width = max(MIN_SIZE[0], to_int(request.query.get("width", "80"), 80))
        height = max(MIN_SIZE[1], to_int(request.query.get("height", "24"), 24))
        name = self.learner(request)
        websocket = web.WebSocketResponse(heartbeat=15)
        self._starting += 1
        starting = True
        app_service: LearnerApp | None = None
        idle_task: asyncio.Task | None = None
        try:
            await websocket.prepare(request)
            app_service = LearnerApp(
                self._app_argv(), self._learner_env(name),
                write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                close=websocket.close, download_manager=self.download_manager,
            )
            await app_service.start(width, height)
            self.apps.add(app_service)
            self._starting -= 1
            starting = False
            log.info("session started: %s (pid %s, %dx%d)", name, app_service.pid, width, height)
            idle_task = asyncio.create_task(self._close_when_idle(app_service, websocket, name))
            await self._relay(websocket, app_service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # a broken tab must not take the server down
            log.exception(error)
        finally:
            if starting:
                self._starting -= 1
            if idle_task is not None:
                idle_task.cancel()
            if app_service is not None:
                await app_service.stop()
                self.apps.discard(app_service)
                log.info("session ended: %s (pid %s)", name, app_service.pid)
        return websocket

    async def _relay(self, websocket: web.WebSocketResponse, app_service: LearnerApp) -> None:
        """Browser -> app, as textual-serve does (stdin, resize, ping, focus, blur)."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                kind, data = message.json()
            except (ValueError, TypeError):
                continue
            if kind == "stdin":
                await app_service.send_bytes(str(data).encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                await app_service.set_terminal_size(
                    max(MIN_SIZE[0], to_int(str(data.get("width")), 80)),
                    max(MIN_SIZE[1], to_int(str(data.get("height")), 24)))
            elif kind == "ping":
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await app_service.blur()
            elif kind == "focus":
                await app_service.focus()

    async def _close_when_idle(self, app_service: LearnerApp, websocket: web.WebSocketResponse,
                               name: str) -> None:
        idle = self.options.idle_seconds
        while True:
            left = app_service.last_input + idle - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(min(left + 0.05, 5.0))
        log.info("session idle for %.0f s, closing: %s (pid %s)", idle, name, app_service.pid)
        await app_service.stop()
        await websocket.close()
