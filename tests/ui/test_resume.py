"""Reopening a lesson lands where the learner left off: the section, and the cells
before the saved one run again so the namespace matches."""

from __future__ import annotations

import json

from tutor.ui.screens.lesson import LessonScreen

from .conftest import settled, wait_for
from .conftest import open_lesson, press_and_settle
from .test_lesson_screen import reference_w


async def back_in_place(pilot, screen):
    await wait_for(pilot, lambda: not screen.resuming and settled(screen)
                   and screen.runner.state.status != "running", what="the catch-up")


async def test_leaving_inside_cell_2_and_reopening_runs_cell_1_again(make_app, progress_path):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n", "n")  # into the loop of cell 2
        await pilot.press("q")
    assert json.loads(progress_path.read_text())["lessons"]["tiny-fit"]["position"] == {
        "section": 2, "cell": 1,
    }

    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await back_in_place(pilot, screen)
        state = screen.runner.state
        assert screen.section == 2  # the restored section, not cell 1's
        assert state.status == "paused" and state.cells_done == (0,)
        assert state.cell == 0 and state.line is None  # at the end of cell 1, exactly
        assert state.outputs[0] == "ready\n" and not state.costs
        w = next(v for v in state.tensors if v.name == "w")
        assert w.value == [1.0]
        # the next n starts the training loop, as it would have in the first session
        await press_and_settle(pilot, screen, "n")
        state = screen.runner.state
        assert state.cell == 1 and state.iteration == 0
        await press_and_settle(pilot, screen, "n", "n")
        w = next(v for v in screen.runner.state.tensors if v.name == "w")
        assert abs(w.value[0] - reference_w(2)) < 1e-6


async def test_a_saved_first_cell_runs_nothing(make_app):
    app = make_app(lesson="tiny-fit")
    app.progress.set_position("tiny-fit", 1, 0)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.pause(0.3)
        assert not screen.resuming and screen.section == 1
        assert screen.runner.state.status == "idle"


async def test_a_key_pressed_while_catching_up_waits_for_it(make_app):
    app = make_app(lesson="tiny-fit")
    app.progress.set_position("tiny-fit", 2, 1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine_ready, 30, "torch")
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        await pilot.press("n")  # while catching up, or just after: one step either way
        await wait_for(pilot, lambda: screen.runner.state.iteration == 0 and settled(screen),
                       what="the loop's first iteration")
        assert screen.runner.state.cells_done == (0,)


async def test_a_stale_position_past_the_last_cell_is_ignored(make_app):
    app = make_app(lesson="tiny-fit")
    app.progress.set_position("tiny-fit", 0, 9)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.pause(0.3)
        assert screen.runner.state.status == "idle" and not screen.resuming


async def test_a_loop_before_the_saved_cell_is_run_again_in_full(make_app, lessons_dir):
    from .conftest import TINY

    three = TINY + "\n## After | 다음\n\n```python\nprint(round(w.item(), 6))\n```\n"
    (lessons_dir / "01-tiny.md").write_text(three, encoding="utf-8")
    app = make_app(lesson="tiny-fit")
    app.progress.set_position("tiny-fit", 3, 2)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await back_in_place(pilot, screen)
        state = screen.runner.state
        assert screen.section == 3
        assert state.cells_done == (0, 1) and state.cell == 1 and state.line is None
        assert len(state.costs) == 5  # the five epochs, with their costs for the plot
        w = next(v for v in state.tensors if v.name == "w")
        assert abs(w.value[0] - reference_w(5)) < 1e-6
        await press_and_settle(pilot, screen, "n")
        assert screen.runner.state.outputs[2] == f"{round(reference_w(5), 6)}\n"
