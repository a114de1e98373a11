"""tutor over a real SSH connection, in a real 80x24 terminal (tmux).

A private OpenSSH server on 127.0.0.1 (see sshd.py) and `ssh -tt` inside a detached
tmux session: the same path a learner's keystrokes take on a shared host, with
TERM=xterm-256color, a UTF-8 locale set by the remote command, and progress written
under an XDG_STATE_HOME of the test's own.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import re
import shlex
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .sshd import SshdUnavailable, ensure_command, ensure_openssh, sshd_server

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 80, 24
EXITED = re.compile(r"\[exited (\d+)\]")
TUTOR = Path(sys.executable).parent / "tutor"  # the venv running these tests

LESSON = """\
---
id: e2e-tiny
title:
  en: Tiny SSH lesson
  ko: 작은 SSH 레슨
---

::: en
A lesson small enough to step through over SSH.
:::
::: ko
SSH로 한 단계씩 실행해 볼 작은 레슨입니다.
:::

## Train | 훈련

```python
import torch
w = torch.tensor([1.0], requires_grad=True)
lr = 0.1
for epoch in range(3):
    cost = ((w * 2 - 4) ** 2).mean()
    cost.backward()
    with torch.no_grad():
        w -= lr * w.grad
    w.grad.zero_()
```
"""


class Terminal:
    """A detached tmux session of WIDTH x HEIGHT running one command."""

    def __init__(self, command: list[str]) -> None:
        # tmux sockets live in a short path: AF_UNIX paths are limited to ~100 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="tutor-tmux-"))
        conf = self.dir / "tmux.conf"
        conf.write_text("set -g status off\n")
        self.base = ["tmux", "-S", str(self.dir / "sock"), "-f", str(conf)]
        # tmux may drop the last output of a command that exits at once, so the
        # pane reports the exit status itself and stays open until close().
        wrapped = ["sh", "-c", '"$@"; echo "[exited $?]"; exec sleep 600', "sh", *command]
        self._tmux(
            "new-session", "-d", "-s", "e2e", "-x", str(WIDTH), "-y", str(HEIGHT),
            shlex.join(wrapped),
        )

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=10,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "TERM": "xterm-256color",
                 "LANG": "C.UTF-8"},
        )
        if result.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "e2e")

    def size(self) -> tuple[int, int]:
        w, h = self._tmux("display", "-p", "-t", "e2e", "#{pane_width} #{pane_height}").split()
        return int(w), int(h)

    def press(self, *keys: str) -> None:
        for key in keys:
            self._tmux("send-keys", "-t", "e2e", key)
            time.sleep(0.15)

    def wait_for(self, what: str | Callable[[str], bool], timeout: float = 30.0) -> str:
        check = (lambda s: what in s) if isinstance(what, str) else what
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            assert "Traceback" not in screen, screen
            if check(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what!r}; screen:\n{screen}")

    def wait_exit(self, timeout: float = 20.0) -> int:
        """Wait until the command ended; its exit status."""
        screen = self.wait_for(lambda s: EXITED.search(s) is not None, timeout)
        return int(EXITED.search(screen).group(1))

    def close(self) -> None:
        try:
            self._tmux("kill-server")
        except RuntimeError:
            pass
        for child in self.dir.iterdir():
            child.unlink(missing_ok=True)
        self.dir.rmdir()


@pytest.fixture
def ssh_prefix(tmp_path: Path) -> Iterator[list[str]]:
    try:
        ensure_command("tmux")
        with sshd_server(tmp_path) as (_port, prefix):
            yield prefix
    except SshdUnavailable as exc:
        pytest.fail(f"cannot set up the SSH test: {exc}", pytrace=False)


def ssh_in_terminal(prefix: list[str], remote: list[str]) -> Terminal:
    """`ssh -tt HOST REMOTE` in an 80x24 tmux pane whose client says TERM=xterm-256color."""
    return Terminal(["env", "TERM=xterm-256color", *prefix, "-tt", shlex.join(remote)])


def test_terminal_reaches_the_remote_side(ssh_prefix):
    """The harness itself: the remote side gets our TERM, a tty of 80x24, and UTF-8."""
    script = (
        "import os, shutil, sys; "
        "print('TERM=' + os.environ.get('TERM', '')); "
        "print('SIZE=%dx%d' % tuple(shutil.get_terminal_size((0, 0)))); "
        "print('TTY=' + str(sys.stdout.isatty())); "
        "print('ENC=' + sys.stdout.encoding); print('한국어')"
    )
    term = ssh_in_terminal(ssh_prefix, ["env", "LANG=C.UTF-8", sys.executable, "-c", script])
    try:
        assert term.size() == (WIDTH, HEIGHT)
        assert term.wait_exit() == 0
        screen = term.screen()
        assert "TERM=xterm-256color" in screen
        assert f"SIZE={WIDTH}x{HEIGHT}" in screen
        assert "TTY=True" in screen
        assert "ENC=utf-8" in screen
        assert "한국어" in screen
    finally:
        term.close()


def plain_torch_result() -> tuple[str, str]:
    """The lesson's loop in plain torch: final w and last cost, as the app prints them."""
    import torch

    w = torch.tensor([1.0], requires_grad=True)
    lr = 0.1
    for _epoch in range(3):
        cost = ((w * 2 - 4) ** 2).mean()
        cost.backward()
        with torch.no_grad():
            w -= lr * w.grad
        w.grad.zero_()
    return f"{w.item():.4g}", f"{cost.item():.4g}"


def screen_hash(screen: str) -> str:
    return hashlib.sha256(screen.encode()).hexdigest()


def test_tutor_over_ssh_picker_lesson_steps_quit_and_progress(ssh_prefix, tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "01-tiny.md").write_text(LESSON, encoding="utf-8")
    state = tmp_path / "state"
    remote = [
        "env", f"XDG_STATE_HOME={state}", "LANG=C.UTF-8",
        str(TUTOR), "--lessons", str(lessons),
    ]
    term = ssh_in_terminal(ssh_prefix, remote)
    try:
        # The picker, in English (LANG=C.UTF-8), then in Korean: UTF-8 survives ssh.
        term.wait_for("Tiny SSH lesson")
        term.press("l")
        term.wait_for("작은 SSH 레슨")
        term.press("l")
        term.wait_for("Tiny SSH lesson")

        term.press("Enter")
        lesson_screen = term.wait_for("for epoch in range(3):")

        # Step with `n` until the loop has run: each press changes the screen (code
        # marker, status, tensors, plot), and at the end the tensor table shows the
        # values plain torch computes for the same loop.
        w_final, cost_final = plain_torch_result()
        term.wait_for(lambda s: "loading torch" not in s)
        screen = term.screen()
        for _ in range(8):
            if w_final in screen and cost_final in screen:
                break
            before = screen_hash(screen)
            term.press("n")
            screen = term.wait_for(lambda s, b=before: screen_hash(s) != b, timeout=30)
            time.sleep(0.3)  # let the repaint finish
            screen = term.screen()
        assert w_final in screen and cost_final in screen, screen
        for line in screen.splitlines():
            assert len(line) <= WIDTH
        assert len(screen.splitlines()) <= HEIGHT

        term.press("q")  # lesson -> picker
        term.wait_for("Tiny SSH lesson")
        term.press("q")  # picker -> quit
        assert term.wait_exit() == 0
    finally:
        term.close()

    progress_file = state / "tutor" / "progress.json"
    assert progress_file.is_file(), f"no progress under {state}"
    assert stat.S_IMODE(progress_file.stat().st_mode) == 0o600
    data = json.loads(progress_file.read_text())
    assert data["version"] == 1
    assert data["last_lesson"] == "e2e-tiny"
    assert data["lessons"]["e2e-tiny"]["position"]["cell"] == 0
    assert data["lessons"]["e2e-tiny"]["finished"] is True


DOCS = Path(__file__).resolve().parents[2] / "docs" / "ssh.md"


def documented_match_block(tutor: Path, lessons: Path) -> str:
    """The Match block from docs/ssh.md, pointed at this machine's user, venv and lessons."""
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(# tutor-only accounts.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/ssh.md should hold exactly one tutor-only Match block"
    group = grp.getgrgid(os.getgid()).gr_name
    block = blocks[0]
    for old, new in [
        ("Match Group tutor-learners", f"Match Group {group}"),
        ("/usr/local/bin/tutor", str(tutor)),
        ("/srv/tutor/lessons", str(lessons)),
    ]:
        assert old in block, f"docs/ssh.md Match block lost {old!r}"
        block = block.replace(old, new)
    return block


def test_documented_match_block_is_valid_sshd_config(tmp_path):
    try:
        ensure_openssh()
    except SshdUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    lessons = tmp_path / "lessons"
    block = documented_match_block(TUTOR, lessons)
    host_key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    config = tmp_path / "sshd_config"
    config.write_text(f"HostKey {host_key}\nUsePAM no\n{block}")
    user = pwd.getpwuid(os.getuid()).pw_name
    effective = subprocess.run(
        ["/usr/sbin/sshd", "-T", "-f", str(config), "-C", f"user={user},host=h,addr=127.0.0.1"],
        capture_output=True, text=True, check=True,
    ).stdout.lower()
    assert f"forcecommand {TUTOR} --lessons {lessons}".lower() in effective
    assert "setenv pythonutf8=1" in effective
    assert "allowtcpforwarding no" in effective
    assert "x11forwarding no" in effective


def test_forcecommand_account_gets_the_app_whatever_it_asks_for(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "01-tiny.md").write_text(LESSON, encoding="utf-8")
    try:
        ensure_command("tmux")
        with sshd_server(tmp_path, documented_match_block(TUTOR, lessons)) as (_port, prefix):
            # The learner asks for a shell command; the server starts tutor instead.
            term = ssh_in_terminal(prefix, ["echo", "ESCAPED"])
            try:
                term.wait_for("Tiny SSH lesson")
                assert "ESCAPED" not in term.screen()
                term.press("q")
                assert term.wait_exit() == 0
            finally:
                term.close()
    except SshdUnavailable as exc:
        pytest.fail(f"cannot set up the SSH test: {exc}", pytrace=False)


LONG_LESSON = LESSON.replace("id: e2e-tiny", "id: e2e-long").replace(
    "range(3)", "range(10_000_000)"
)


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains `text` (a path unique to this test)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids


def test_dropped_connection_ends_the_remote_session(ssh_prefix, tmp_path):
    """A learner whose connection drops mid-run leaves no tutor burning CPU behind,
    and the progress file, if any, is whole."""
    lessons = tmp_path / "lessons-dropped"
    lessons.mkdir()
    (lessons / "01-long.md").write_text(LONG_LESSON, encoding="utf-8")
    state = tmp_path / "state"
    remote = ["env", f"XDG_STATE_HOME={state}", "LANG=C.UTF-8", str(TUTOR), "--lessons", str(lessons)]
    term = ssh_in_terminal(ssh_prefix, remote)
    try:
        term.wait_for("Tiny SSH lesson")
        term.press("Enter")
        term.wait_for("for epoch in range(10_000_000):")
        term.wait_for(lambda s: "loading torch" not in s)
        term.press("space")
        term.wait_for(lambda s: "running" in s)
        assert processes_mentioning(str(lessons)), "the remote tutor is not running"
    finally:
        term.close()  # kills the ssh client: the connection drops
    deadline = time.monotonic() + 15
    while (left := processes_mentioning(str(lessons))) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:  # clean up after a failure: these are this test's own processes
        os.kill(pid, 9)
    assert not left, "tutor kept running after its SSH connection dropped"
    progress_file = state / "tutor" / "progress.json"
    if progress_file.exists():
        json.loads(progress_file.read_text())


def test_corrupt_progress_file_is_reported_and_set_aside(ssh_prefix, tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "01-tiny.md").write_text(LESSON, encoding="utf-8")
    state = tmp_path / "state"
    (state / "tutor").mkdir(parents=True)
    (state / "tutor" / "progress.json").write_text('{"version": 1, "lessons": {"e2e-ti')
    remote = ["env", f"XDG_STATE_HOME={state}", "LANG=C.UTF-8", str(TUTOR), "--lessons", str(lessons)]
    term = ssh_in_terminal(ssh_prefix, remote)
    try:
        term.wait_for("Tiny SSH lesson")
        term.wait_for("corrupt-", timeout=10)  # the warning names the copy
        term.press("q")
        assert term.wait_exit() == 0
    finally:
        term.close()
    assert len(list((state / "tutor").glob("progress.json.corrupt-*"))) == 1
