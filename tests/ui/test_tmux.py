"""The real `tutor` command in a real 80x24 terminal (tmux, TERM=xterm-256color).

Opens a lesson from the picker, steps, changes the learning rate, reads the screen
with `capture-pane -p` and checks the text a learner would read. tmux runs on a
socket of its own and its server is killed at the end.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from tmux_session import Tmux

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

TUTOR = Path(sys.executable).parent / "tutor"


def test_tutor_in_tmux_steps_and_changes_lr(lessons_dir, tmp_path):
    env = {
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
    }
    term = Tmux([str(TUTOR), "--lessons", str(lessons_dir)], env)
    try:
        term.wait_text("Tiny fit")
        term.press("Enter")
        term.wait_text("w = torch.tensor([1.0],")
        term.wait_for(lambda s: "ready" in s.splitlines()[0], 90, what="torch loaded")
        term.press("n")
        term.wait_text("✓ matches the expected output")
        term.press("n", "n", "n")
        # the burst's last state: iter 2, paused (a moment earlier iter 2 may still say
        # running, while the third `n` is under way)
        screen = term.wait_for(lambda s: "iter 2" in s.splitlines()[0] and "paused" in s.splitlines()[0],
                               what="iter 2, paused")
        assert "lr 0.1" in screen.splitlines()[0]
        term.press("e")
        term.type("abc")
        term.press("Enter")
        term.wait_text("not a number: abc")
        term.press("BSpace", "BSpace", "BSpace")
        term.type("0.05")
        term.press("Enter")
        term.wait_text("learning rate 0.05 from the next iteration")
        term.press("n")
        term.wait_text("iter 3")
        # the plot is redrawn when the step has paused (throttled while running)
        screen = term.wait_text("━ now lr=0.1→0.05")
        status = screen.splitlines()[0]
        assert "lr 0.05" in status
        # the tensor table and the plot are there, and nothing runs past 80 columns
        assert "grad" in screen and "━ now lr=0.1→0.05" in screen
        lines = screen.splitlines()
        assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
        term.press("l")
        term.wait_text("기울기")
        term.press("q")
        term.wait_text("작은 학습")
        term.press("q")
        screen = term.wait_text("EXITED", 20)
        assert "EXITED 0" in screen and "Traceback" not in screen
    finally:
        term.kill()
