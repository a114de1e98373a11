"""The TTY check lets Textual's web driver through, and nothing else."""

from __future__ import annotations

import io

from tutor.terminal import WEB_DRIVER, terminal_problem


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty

    encoding = "utf-8"


def test_the_web_driver_over_pipes_may_start_the_app():
    pipes = [Stream(False), Stream(False), Stream(False)]
    assert terminal_problem(*pipes, {"TEXTUAL_DRIVER": WEB_DRIVER}) is None  # no TERM needed


def test_pipes_without_the_web_driver_are_still_refused():
    pipes = [Stream(False), Stream(False), Stream(False)]
    for env in ({}, {"TEXTUAL_DRIVER": "textual.drivers.linux_driver:LinuxDriver"}):
        assert "not a TTY" in terminal_problem(*pipes, {"TERM": "xterm", **env})


def test_the_web_driver_in_a_real_terminal_is_refused():
    ttys = [Stream(True), Stream(True), Stream(True)]
    message = terminal_problem(*ttys, {"TERM": "xterm", "TEXTUAL_DRIVER": WEB_DRIVER})
    assert "only works under `tutor serve`" in message
