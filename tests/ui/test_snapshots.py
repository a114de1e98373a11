"""Snapshot tests at 80x24: the picker and a lesson mid-training, in Korean and English.

Deterministic: the lesson snapshots are taken with the runner paused and the screen
showing its latest state (no timing-dependent text). Regenerate with
`pytest tests/ui/test_snapshots.py --snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

import pytest

from tutor.progress import Progress

from .conftest import engine_ready, settled, wait_for

SIZE = (80, 24)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_picker_snapshot(snap_compare, make_app, progress_path, lang):
    progress = Progress.load(progress_path)
    progress.mark_finished("tiny-fit")
    progress.set_position("broken", 1, 0)
    progress.save()
    assert snap_compare(make_app(lang=lang), terminal_size=SIZE)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_lesson_mid_training_snapshot(snap_compare, make_app, lang):
    async def run_before(pilot) -> None:
        await engine_ready(pilot)
        screen = pilot.app.screen
        for key in ("n", "n", "n", "n", "s", "s"):
            await pilot.press(key)
            await wait_for(pilot, lambda: settled(screen), what=key)
        await pilot.pause(0.3)

    assert snap_compare(make_app(lesson="tiny-fit", lang=lang), terminal_size=SIZE, run_before=run_before)


@pytest.fixture
def momentum_lessons(lessons_dir):
    from .test_inspector import MOMENTUM

    (lessons_dir / "04-momentum.md").write_text(MOMENTUM, encoding="utf-8")
    return lessons_dir


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_inspector_snapshot(snap_compare, make_app, momentum_lessons, lang):
    """The inspector on a 3×3 W with momentum at iteration 2: value, grad and
    momentum buffer side by side and below, the update written out, at 80x24."""
    async def run_before(pilot) -> None:
        from tutor.ui.screens.inspector import InspectorScreen

        await engine_ready(pilot)
        screen = pilot.app.screen
        for key in ("n", "n", "n", "n"):
            await pilot.press(key)
            await wait_for(pilot, lambda: settled(screen), what=key)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, InspectorScreen), what="inspector")
        await wait_for(pilot, lambda: pilot.app.screen._shown is not None, what="W whole")
        await pilot.pause(0.3)

    assert snap_compare(make_app(lesson="momentum-3x3", lang=lang), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_step_view_snapshot(snap_compare, make_app, momentum_lessons, lang):
    """The lesson screen after three momentum steps: the step strip writes out
    W's update with its numbers under the panes."""
    async def run_before(pilot) -> None:
        await engine_ready(pilot)
        screen = pilot.app.screen
        for key in ("n", "n", "n", "n", "n"):
            await pilot.press(key)
            await wait_for(pilot, lambda: settled(screen), what=key)
        await pilot.pause(0.3)

    assert snap_compare(make_app(lesson="momentum-3x3", lang=lang), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_divergence_pause_and_until_field_snapshot(snap_compare, make_app, lang):
    """A free run paused by the divergence check (what grew, whose update, `b`), with
    the `u` field open on a refused condition, at 80x24."""
    async def run_before(pilot) -> None:
        await engine_ready(pilot)
        screen = pilot.app.screen
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.runner.state.divergence is not None and settled(screen),
                       what="the divergence pause")
        pilot.app.clear_notifications()  # the critical-lr warning: timing, not layout
        await pilot.press("u", *"cost <", "enter")
        await pilot.pause(0.3)

    assert snap_compare(make_app(lesson="diverge", lang=lang), terminal_size=SIZE, run_before=run_before)


STDERR_LESSON = """\
---
id: warns
title:
  en: Warnings
  ko: 경고
---

## Train | 학습

::: en
A cell that prints, draws a progress bar on stderr and warns.
:::
::: ko
출력하고, stderr에 진행 막대를 그리고, 경고하는 셀입니다.
:::

```python
import sys
for step in range(1, 4):
    _ = sys.stderr.write(f"\\rtraining {step}/3 " + "#" * step)
_ = sys.stderr.write("\\nUserWarning: this API is deprecated\\n")
print("trained")
```
"""


@pytest.fixture
def stderr_lessons(lessons_dir):
    (lessons_dir / "05-warns.md").write_text(STDERR_LESSON, encoding="utf-8")
    return lessons_dir


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_stderr_in_the_output_pane_snapshot(snap_compare, make_app, stderr_lessons, lang):
    """What a cell wrote to stderr under what it printed, in the stderr style: the
    progress bar as a terminal leaves it (its last state), at 80x24."""
    async def run_before(pilot) -> None:
        await engine_ready(pilot)
        screen = pilot.app.screen
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.runner.state.status == "done" and settled(screen), what="the run")
        await pilot.pause(0.3)

    assert snap_compare(make_app(lesson="warns", lang=lang), terminal_size=SIZE, run_before=run_before)
