"""LessonSession headless: no textual, no torch at import; resume through the runner's
own cell numbering; keys before the runner exists; earlier runs kept per lesson."""

from __future__ import annotations

import subprocess
import sys
import time

from tutor.engine import loader
from tutor.progress import Progress
from tutor.session import LessonSession, RunArchive

from tests.ui.conftest import TINY


def test_the_session_imports_neither_textual_nor_torch():
    code = ("import sys, tutor.session; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich', 'torch'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def make_session(tmp_path, notices=None):
    path = tmp_path / "01-tiny.md"
    path.write_text(TINY, encoding="utf-8")
    lesson = loader.load_lesson(path)
    progress = Progress.load(tmp_path / "progress.json")
    record = (lambda key, **values: notices.append((key, values))) if notices is not None else None
    return LessonSession(lesson, progress, RunArchive(), notice=record), progress


def settle(session, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        session.runner.wait(timeout)  # the worker waits for a command, or ended
        state = session.tick()  # may send a pending or queued step
        quiet = state.status != "running" and not session.resuming and not session.queued
        if quiet and session.runner.wait(timeout) is state:
            return state
        assert time.monotonic() < deadline, "the runner did not settle"
        time.sleep(0.01)


def test_resume_runs_the_cells_before_the_saved_one_with_one_runner(tmp_path):
    from tutor.engine.runner import Runner

    made = []

    def factory(lesson, lr):
        made.append(lr)
        return Runner(lesson, lr_override=lr)

    notices: list = []
    session, progress = make_session(tmp_path, notices)
    progress.set_position("tiny-fit", 2, 1)
    session.restore_position()
    assert session.section == 2 and notices[-1] == ("lesson.resume", {"section": 2, "cell": 2})
    session.next()  # before torch: runs once the session is back in place
    session.set_lr(0.05)  # before torch: the runner is made with it
    session.attach(factory)
    assert made == [0.05]  # one runner only, no headless counter
    assert session.resuming and session.status(session.runner.state) == "running"
    state = settle(session)
    assert ("lesson.resumed", {"n": 2}) in notices
    assert state.cells_done == (0,) and state.cell == 1 and state.iteration == 0  # the pending n
    assert session.section == 2
    session.leave()
    assert progress.position("tiny-fit") == {"section": 2, "cell": 1}


def test_reset_keeps_the_run_for_the_overlay_and_edits_run_the_cells_before(tmp_path):
    from tutor.engine.runner import Runner

    session, _ = make_session(tmp_path)
    session.attach(lambda lesson, lr: Runner(lesson, lr_override=lr))
    session.run_all()
    state = settle(session)
    assert state.status == "done" and len(state.costs) == 5
    session.reset()
    assert [r.lr_label for r in session.previous_runs()] == ["lr=0.1"]
    assert session.run_edited(1, "print('edited')\n")
    state = settle(session)
    assert state.cells_done == (0,) and state.line is None  # at the start of the edited cell
    session.next()
    assert settle(session).outputs[1] == "edited\n"
    session.leave()


def test_a_step_typed_before_the_screen_showed_the_last_one_steps_on(tmp_path):
    """`n n n` in one burst: a key can come before the screen has shown the state the
    step before it produced (the run entered the next section's cell). It steps on,
    rather than taking the section still on screen for one the learner went back to
    (that replayed the lesson to its start: seen in tmux, keys typed at once)."""
    from tutor.engine.runner import Runner

    session, _ = make_session(tmp_path)
    session.attach(lambda lesson, lr: Runner(lesson, lr_override=lr))
    try:
        session.next()  # cell 0, in §1
        state = settle(session)
        session.observe(state)  # the screen showed it
        assert state.cell == 0 and session.section == 1
        session.next()  # into the loop of cell 1, in §2
        state = settle(session)  # not shown yet
        assert (state.cell, state.iteration) == (1, 0) and session.section == 1
        session.next()
        state = settle(session)
        assert (state.cell, state.iteration, state.status) == (1, 1, "paused")
        assert session.section == 2
    finally:
        session.leave()


STUCK_ON_THE_WAY = """\
---
id: stuck-on-the-way
title:
  en: Stuck on the way
  ko: 가는 길에 멈춤
---

## Start | 시작

```python
x = 1
```

## Stuck | 멈춤

```python
while True:
    x = x + 1
```

## Later | 나중

```python
y = 2
```
"""


def test_r_resets_while_a_run_to_a_later_section_is_stuck_on_the_way(tmp_path):
    """`n` in a later section runs the cells before it; one of them never returns
    ("running to §3"): `r` still starts over at once."""
    from tutor.engine.runner import Runner

    path = tmp_path / "01-stuck.md"
    path.write_text(STUCK_ON_THE_WAY, encoding="utf-8")
    session = LessonSession(loader.load_lesson(path), Progress.load(tmp_path / "p.json"), RunArchive())
    session.attach(lambda lesson, lr: Runner(lesson, lr_override=lr))
    try:
        session.section = 3
        session.next()
        # stuck on the way: the worker is in §2's endless cell (a way there publishes
        # nothing, so its run says where), not a fixed sleep that may end before that
        deadline = time.monotonic() + 10
        while session.runner._run.cell != 1:
            assert time.monotonic() < deadline, "the way there never reached the endless cell"
            time.sleep(0.01)
        session.tick()
        assert session.status(session.runner.state) == "running_to"
        session.reset()
        state = session.runner.wait(5)
        assert session.status(state) == "idle" and state.cells_done == ()
        assert not session.resuming and session.heading_to is None
    finally:
        session.leave()


def test_an_lr_typed_just_before_an_edit_carries_over_to_the_new_kernel(tmp_path, kernel_host):
    """The new runner (an edited cell) is made with the old one's lr as last set, not
    with the one its kernel's state showed before it answered the change."""
    made = []

    def factory(lesson, lr):
        made.append(lr)
        return kernel_host.client(lesson, lr_override=lr)

    session, _ = make_session(tmp_path)
    session.attach(factory)
    try:
        session.next()
        settle(session)
        session.set_lr(0.0625)
        assert session.run_edited(1, "print('edited')\n")  # at once: no answer waited for
        assert made == [None, 0.0625]
        assert settle(session).lr_override == 0.0625
    finally:
        session.leave()


def test_b_typed_with_n_in_a_burst_counts_in_order(tmp_path, kernel_host):
    """`n n b`, `n b b`, `b n n`, `b b b` each typed at once (before any answer), through
    a kernel: every key counts, in order, as the same keys typed one by one (b was taken
    at once, ahead of an n still queued, and dropped the queue)."""
    session, _ = make_session(tmp_path)
    session.attach(lambda lesson, lr: kernel_host.client(lesson, lr_override=lr))
    keys = {"n": session.next, "b": session.step_back}
    try:
        for _ in range(5):
            keys["n"]()
            settle(session)
        start = settle(session).iteration
        for burst in ("nnb", "nbb", "bnn", "bbb", "nnn"):
            for key in burst:
                keys[key]()
                session.tick()
            state = settle(session)
            start += burst.count("n") - burst.count("b")
            assert (state.status, state.iteration) == ("paused", start), burst
    finally:
        session.leave()


def test_the_view_follows_a_kernel_that_died_in_a_later_section(tmp_path, kernel_host):
    """§0 is prose only and §1's first cell ends the kernel's process before any state
    of it was shown: the view goes to §1, where it died (it stayed on §0)."""
    path = tmp_path / "01-dies.md"
    path.write_text(
        "---\nid: dies\ntitle:\n  en: Dies\n  ko: 죽음\n---\n\nProse only.\n\n"
        "## One | 하나\n\n```python\nimport os\nos._exit(3)\n```\n\n"
        "## Two | 둘\n\n```python\ny = 2\n```\n", encoding="utf-8")
    lesson = loader.load_lesson(path)
    session = LessonSession(lesson, Progress.load(tmp_path / "progress.json"), RunArchive())
    session.attach(lambda lesson, lr: kernel_host.client(lesson, lr_override=lr))
    try:
        session.next()
        state = settle(session)
        session.observe(state)
        assert (state.status, state.error.type, state.error.line) == ("error", "KernelDied", 14)
        assert session.section == 1
    finally:
        session.leave()
