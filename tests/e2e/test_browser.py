"""`tutor serve` in a real browser: Debian's chromium driven by playwright.

A learner logs in, the page starts the app (textual-serve's page connects its
websocket at once; no start dialog without `?delay`), opens the lesson with `enter`,
steps with `n`, and goes back with `q`; then the learner's own state file
(`--state DIR/kim/progress.json`, 0600) holds where they are, and nothing was written
to the server user's own state directory.

Chromium comes from apt (installed here when missing; about a minute on a fresh
machine, see docs/serve.md) and is started from /usr/bin/chromium: playwright's pip
package brings its driver, and no browser is downloaded. Where chromium or playwright
cannot be installed the test is skipped with the reason.
"""

from __future__ import annotations

import json
import re
import stat
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.serve.serving import PASSWORD, children, served, write_class

from .sshd import SshdUnavailable, apt_install

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium() -> Path:
    try:
        apt_install(["chromium"], CHROMIUM.exists)
    except SshdUnavailable as exc:
        pytest.skip(f"Debian's chromium could not be installed: {exc}")
    return CHROMIUM


def _text(screen: bytearray, tail: int = 3000) -> str:
    """The end of what the terminal received, escape sequences removed (for failures)."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07", "",
                  bytes(screen).decode("utf-8", "replace"))[-tail:]


def _progress(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def test_a_learner_logs_in_steps_a_lesson_and_their_state_file_holds_it(tmp_path, chromium):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright (a pinned test extra) is not installed")
    lessons, users = write_class(tmp_path, ("kim",))
    state = tmp_path / "state"
    progress = state / "kim" / "progress.json"
    args = ("--users", str(users), "--lessons", str(lessons), "--state", str(state),
            "--lang", "en")
    with served(tmp_path, *args) as srv, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 720})
            sockets: list = []
            screen = bytearray()  # everything the app drew, as the terminal received it

            def on_socket(ws) -> None:
                sockets.append(ws.url)
                ws.on("framereceived", lambda payload: screen.extend(
                    payload if isinstance(payload, bytes) else payload.encode()))

            page.on("websocket", on_socket)

            def until(predicate, timeout: float) -> bool:
                """wait_for that lets playwright deliver events meanwhile (its sync API
                runs callbacks only inside its own calls, never during time.sleep)."""
                end = time.monotonic() + timeout
                while not predicate():
                    if time.monotonic() > end:
                        return False
                    page.wait_for_timeout(50)
                return True

            page.goto(f"{srv.url}/")
            assert urlsplit(page.url).path == "/login"  # nothing before a login
            assert children(srv.process.pid) == []
            page.fill("#name", "kim")
            page.fill("#password", PASSWORD)
            page.click("#login")
            page.wait_for_selector("body.-first-byte", timeout=30_000)
            size = parse_qs(urlsplit(sockets[0]).query)
            assert int(size["width"][0]) >= 80 and int(size["height"][0]) >= 24
            assert until(lambda: b"Tiny web lesson" in screen, 20)  # the picker
            assert len(children(srv.process.pid)) == 1

            page.locator(".xterm-helper-textarea").focus()
            page.keyboard.press("Enter")  # open the (only) lesson
            assert until(lambda: _progress(progress).get("last_lesson") == "web-tiny", 30)
            page.keyboard.press("n")  # run the first cell (section 1)
            assert until(lambda: _progress(progress).get("lessons", {}).get(
                "web-tiny", {}).get("position", {}).get("section") == 1, 20)
            page.keyboard.press("n")  # into the loop: section 2, its first epoch
            if not until(lambda: _progress(progress)["lessons"]["web-tiny"]["position"]
                         == {"section": 2, "cell": 1}, 30):
                print(_progress(progress), _text(screen), sep="\n")
                raise AssertionError("the position did not reach section 2, cell 1")
            saved_at = _progress(progress).get("last_activity")
            page.wait_for_timeout(200)  # last_activity has a resolution of 0.1 s
            page.keyboard.press("q")  # back to the picker: the position is saved on leaving
            assert until(lambda: _progress(progress).get("last_activity") != saved_at, 20)
        finally:
            browser.close()
    data = _progress(progress)
    assert data["last_lesson"] == "web-tiny"
    assert data["lessons"]["web-tiny"]["position"] == {"section": 2, "cell": 1}
    assert stat.S_IMODE(progress.stat().st_mode) == 0o600
    assert stat.S_IMODE(progress.parent.stat().st_mode) == 0o700
    assert not (tmp_path / "xdg-state" / "tutor").exists()  # the server user's own: untouched
