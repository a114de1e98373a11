"""A real terminal for tests: one tmux server of its own running one command.

Used by the tests that drive the real `tutor` command as a learner's terminal
would (tests/ui/test_tmux.py, tests/test_robustness_cli.py). The pane prints
`EXITED <status>` when the command ends and stays open so the tests can read it.
"""

from __future__ import annotations

import shlex
import subprocess
import time
import uuid


class Tmux:
    """One WIDTHxHEIGHT window running `command` with exactly `env` (`env -i`)."""

    def __init__(self, command: list[str], env: dict[str, str], size=(80, 24)) -> None:
        self.socket = f"tutor-test-{uuid.uuid4().hex[:8]}"
        line = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        line = (f"env -i {line} {' '.join(shlex.quote(c) for c in command)} 2>&1; "
                "echo EXITED $?; sleep 60")
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "t",
                  "-x", str(size[0]), "-y", str(size[1]), line)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=10, check=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def press(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "t", key)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "t", "-l", text)

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "") -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{screen}")
            time.sleep(0.1)

    def wait_text(self, text: str, timeout: float = 30.0) -> str:
        return self.wait_for(lambda s: text in s, timeout, repr(text))

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)
