"""Keys are never lost or reordered: the real `tutor` in tmux (80x24, TERM=xterm-256color).

100 learning rates typed key by key at random 20-80 ms spacing (the pairs that lost
keys before, such as `1.25` after `0.75`, included), 20 bursts `n e X enter n` sent
in one write (as a paste or a fast typist over SSH arrives), and a change typed while
the lesson runs freely; every one is checked on the screen.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from tmux_session import Tmux

from .conftest import LONG

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

TUTOR = Path(sys.executable).parent / "tutor"


def status_of(screen: str) -> str:
    return screen.splitlines()[0]


def lr_values(rng: random.Random, n: int) -> list[str]:
    """Distinct neighbours, in the shapes learners type."""
    shapes = ["0.75", "1.25", "0.5", "2", "1e-3", "0.05", "3.5e-2", "0.125", "10", ".2"]
    values = list(shapes)
    while len(values) < n:
        v = f"{rng.choice([1, 2, 3, 5, 7, 9])}{rng.choice(['', '.5', '.25', 'e-2', 'e-4'])}"
        if v != values[-1]:
            values.append(v)
    return values[:n]


def test_keys_typed_at_any_speed_reach_their_target_in_order(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "01-long.md").write_text(LONG, encoding="utf-8")
    env = {
        "TERM": "xterm-256color", "LANG": "C.UTF-8", "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    term = Tmux([str(TUTOR), "--lessons", str(lessons), "long-run"], env)
    rng = random.Random(17)
    started = time.monotonic()
    try:
        term.wait_for(lambda s: "ready" in status_of(s), 90, what="torch loaded")
        term.press("n")
        term.wait_for(lambda s: "iter 0" in status_of(s), 20, what="the first iteration")

        # 1. 100 lr values, one key at a time, 20-80 ms apart
        for value in lr_values(rng, 100):
            for key in ["e", *value, "Enter"]:
                term.press(key) if key in ("e", "Enter") else term.type(key)
                time.sleep(rng.uniform(0.02, 0.08))
            # The status line is the truth (a notice can cover the field's message).
            shown = f"lr {float(value):g} "
            deadline = time.monotonic() + 5
            while shown not in status_of(screen := term.screen()) + " ":  # polled finely
                assert time.monotonic() < deadline, f"lr {value} not applied; screen:\n{screen}"
                time.sleep(0.02)

        # 2. 20 bursts: each in one send-keys (one write to the terminal)
        iteration = int(re.search(r"iter (\d+)", status_of(term.screen())).group(1))
        for i in range(20):
            value = f"0.{i + 1:02d}"
            term.tmux("send-keys", "-t", "t", "n", "e", value, "Enter", "n")
            iteration += 2
            want = (f"iter {iteration} ", f"lr {float(value):g} ")
            term.wait_for(lambda s: all(w in status_of(s) + " " for w in want), 10,
                          what=f"burst {i}: {want}")

        # 3. while running freely: the change reaches the field and the run
        term.press("Space")
        term.wait_for(lambda s: "running" in status_of(s), 10, what="running")
        term.tmux("send-keys", "-t", "t", "e", "0.0123", "Enter")
        term.wait_text("learning rate 0.0123 from the next iteration", 10)
        term.press("Space")
        term.wait_for(lambda s: "paused" in status_of(s) and "lr 0.0123 " in status_of(s), 10,
                      what="paused with lr 0.0123")

        # 4. step back in bursts, alone and with `n`: every key counts, in order
        time.sleep(0.5)  # the pause's last kept states are in
        iteration = int(re.search(r"iter (\d+)", status_of(term.screen())).group(1))
        for keys in ("bbb", "bbbbb", "bb", "nnb", "nbb", "bnnn"):  # each string in one burst
            term.tmux("send-keys", "-t", "t", *keys)
            iteration += keys.count("n") - keys.count("b")
            term.wait_for(lambda s: f"iter {iteration} " in status_of(s) + " " and "paused" in status_of(s),
                          10, what=f"{' '.join(keys)} in one burst: iter {iteration}")
    finally:
        term.kill()
    print(f"tmux key stress: {time.monotonic() - started:.1f} s")
