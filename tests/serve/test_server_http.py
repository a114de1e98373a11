"""`tutor serve` over real HTTP on loopback: refusals start no process; a session's
app is the learner's own, limited, closed when idle, and ends with the server."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time

import aiohttp
from yarl import URL
import pytest

from .serving import PASSWORD, alive, children, descendants, group, served, wait_for, write_class

pytestmark = pytest.mark.slow


def _serve_exit(tmp_path, *args):
    done = subprocess.run([sys.executable, "-m", "tutor", "serve", *args], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path, stdin=subprocess.DEVNULL)
    return done.returncode, done.stderr.strip()


def test_an_open_address_without_users_is_refused_in_one_line(tmp_path):
    """A real process: it exits 2 before listening (so it starts nothing)."""
    code, err = _serve_exit(tmp_path, "--host", "0.0.0.0", "--port", "1")
    assert code == 2
    assert err == ("tutor: error: refusing to serve on 0.0.0.0 without --users: anyone who "
                   "reaches the port could run Python as you; add logins with `tutor passwd` "
                   "and --users FILE, or bind 127.0.0.1")


@pytest.mark.parametrize(("args", "words"), [
    (["--host", "::"], "refusing to serve on :: without --users"),
    (["--host", "192.0.2.7"], "refusing to serve on 192.0.2.7 without --users"),
    (["--host", "example.org"], "refusing to serve on example.org without --users"),
    (["--users", "missing.txt"], "users file not found"),
    (["--idle", "0"], "--idle must be a positive number of minutes"),
    (["--idle", "nan"], "--idle must be a positive number of minutes"),
    (["--max-sessions", "0"], "--max-sessions must be at least 1"),
    (["--port", "70000"], "--port must be 1-65535"),
])
def test_bad_serve_options_are_one_line_and_never_listen(tmp_path, monkeypatch, capsys,
                                                         args, words):
    from tutor import cli
    from tutor.serve.server import TutorServer

    def never(self):
        raise AssertionError("tutor serve started listening")

    monkeypatch.setattr(TutorServer, "serve", never)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["serve", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1


def test_kernel_memory_reaches_every_learners_app(tmp_path, monkeypatch):
    from tutor import cli
    from tutor.serve.server import TutorServer

    seen = []
    monkeypatch.setattr(TutorServer, "serve", lambda self: seen.append(self.options.app_args))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--kernel-memory", "512M", "serve"]) == 0
    assert seen and seen[0][-2:] == ["--kernel-memory", "512M"]


def test_a_bad_kernel_memory_is_refused_before_listening(tmp_path, monkeypatch, capsys):
    from tutor import cli
    from tutor.serve.server import TutorServer

    monkeypatch.setattr(TutorServer, "serve", lambda self: pytest.fail("listening"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--kernel-memory", "lots", "serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--kernel-memory" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.3.4.5"])
def test_loopback_addresses_need_no_users(host):
    from tutor.commands.serve import is_loopback

    assert is_loopback(host)


def _jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1, as a browser keeps them


async def _login(client: aiohttp.ClientSession, url: str, name: str, password: str):
    return await client.post(f"{url}/login", data={"name": name, "password": password},
                             allow_redirects=False)


async def test_without_a_login_nothing_is_served_and_no_process_starts(tmp_path):
    lessons, users = write_class(tmp_path)
    with served(tmp_path, "--users", str(users), "--lessons", str(lessons)) as srv:
        async with aiohttp.ClientSession(cookie_jar=_jar()) as client:
            page = await client.get(f"{srv.url}/", allow_redirects=False)
            assert page.status == 303 and page.headers["Location"] == "/login"
            form = await (await client.get(f"{srv.url}/login")).text()
            assert 'name="name"' in form and 'name="password"' in form
            assert (await client.get(f"{srv.url}/static/js/textual.js")).status == 401
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect(f"{srv.url}/ws")
            assert refused.value.status == 401
            client.cookie_jar.update_cookies({"tutor_session": "forged-token"})
            assert (await client.get(f"{srv.url}/", allow_redirects=False)).status == 303
            client.cookie_jar.clear()
            timings = []
            for _ in range(3):
                started = time.monotonic()
                wrong = await _login(client, srv.url, "kim", "not the password")
                timings.append(time.monotonic() - started)
                assert wrong.status == 401 and "Set-Cookie" not in wrong.headers
                assert "Wrong name or password" in await wrong.text()
            assert not client.cookie_jar.filter_cookies(URL(srv.url))
            assert timings[2] >= 0.9 > timings[0]  # the third failure in a row waits 1 s
        assert children(srv.process.pid) == []
        assert PASSWORD not in srv.log and "not the password" not in srv.log


async def _first_bytes(ws: aiohttp.ClientWebSocketResponse, timeout: float = 30) -> bytes:
    got = b""
    end = time.monotonic() + timeout
    while b"\x1b[" not in got and time.monotonic() < end:
        message = await ws.receive(timeout=end - time.monotonic())
        if message.type == aiohttp.WSMsgType.BINARY:
            got += message.data
        elif message.type != aiohttp.WSMsgType.TEXT:
            break
    return got


async def test_a_session_is_the_learners_own_limited_and_closed_when_idle(tmp_path):
    lessons, users = write_class(tmp_path, ("kim", "lee"))
    state = tmp_path / "state"
    args = ("--users", str(users), "--lessons", str(lessons), "--state", str(state),
            "--max-sessions", "1", "--idle", "0.05")  # 3 s
    with served(tmp_path, *args) as srv:
        async with aiohttp.ClientSession(cookie_jar=_jar()) as kim, \
                aiohttp.ClientSession(cookie_jar=_jar()) as lee:
            ok = await _login(kim, srv.url, "kim", PASSWORD)
            assert ok.status == 303 and ok.headers["Location"] == "/"
            cookie = ok.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            page = await (await kim.get(f"{srv.url}/")).text()
            assert f"ws://127.0.0.1:{srv.port}/ws" in page and "googleapis" not in page
            assert f'href="{srv.url}/static/css/xterm.css"' in page  # its own links stay
            ws = await kim.ws_connect(f"{srv.url}/ws?width=100&height=30",
                                      headers={"Origin": srv.url})
            assert b"\x1b[" in await _first_bytes(ws)
            [app] = children(srv.process.pid)
            environ = open(f"/proc/{app}/environ", "rb").read().split(b"\0")
            assert f"TUTOR_STATE_DIR={state / 'kim'}".encode() in environ
            assert stat.S_IMODE((state / "kim").stat().st_mode) == 0o700

            assert (await _login(lee, srv.url, "lee", PASSWORD)).status == 303
            full = await lee.get(f"{srv.url}/")
            assert full.status == 503 and "server full" in await full.text()
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await lee.ws_connect(f"{srv.url}/ws", headers={"Origin": srv.url})
            assert refused.value.status == 503
            assert children(srv.process.pid) == [app]

            # idle for 3 s: the server closes the socket and the app's whole group ends
            processes = [app, *descendants(app)]
            started = time.monotonic()
            while not ws.closed and time.monotonic() - started < 20:
                await ws.receive(timeout=20)
            assert ws.closed and time.monotonic() - started < 15
            assert wait_for(lambda: children(srv.process.pid) == [] and group(app) == []
                            and alive(processes) == [], 10)
            assert "session idle" in srv.log

            # a page of another site cannot open a session with the learner's cookie
            with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
                await lee.ws_connect(f"{srv.url}/ws", headers={"Origin": "http://evil.example"})
            assert foreign.value.status == 403
            assert children(srv.process.pid) == []

            # logging out ends the session: the same cookie is refused afterwards
            token = lee.cookie_jar.filter_cookies(URL(srv.url))["tutor_session"].value
            out = await lee.post(f"{srv.url}/logout", allow_redirects=False)
            assert out.status == 303 and out.headers["Location"] == "/login"
            lee.cookie_jar.update_cookies({"tutor_session": token})
            assert (await lee.get(f"{srv.url}/", allow_redirects=False)).status == 303


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
async def test_every_app_process_ends_with_the_server(tmp_path, sig):
    lessons, _users = write_class(tmp_path)
    with served(tmp_path, "--lessons", str(lessons)) as srv:  # loopback, no logins
        if sig == signal.SIGTERM:  # the port is taken: one line, exit 2
            code, err = _serve_exit(tmp_path, "--port", str(srv.port))
            assert code == 2 and err.startswith(f"tutor: error: cannot listen on 127.0.0.1:{srv.port}")
        async with aiohttp.ClientSession() as client:
            ws = await client.ws_connect(f"{srv.url}/ws?width=40&height=10",
                                         headers={"Origin": srv.url})
            assert b"\x1b[" in await _first_bytes(ws)
            [app] = children(srv.process.pid)
            environ = open(f"/proc/{app}/environ", "rb").read().split(b"\0")
            assert b"COLUMNS=80" in environ and b"ROWS=24" in environ  # never below 80x24
            assert group(app)
            started = [app, *descendants(app)]  # with the kernel: its zygote and kernels
            srv.process.send_signal(sig)
            srv.process.wait(15)
            assert wait_for(lambda: group(app) == [] and alive(started) == [], 10), \
                (group(app), alive(started))
