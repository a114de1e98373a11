"""Edit (`E`), predict (`p`) and hints (`h`) through the real lesson screen."""

from __future__ import annotations

from textual.widgets import TextArea

from tutor.ui.screens.edit_cell import EditCellScreen
from tutor.ui.screens.lesson import LessonScreen
from tutor.ui.screens.predict import PredictScreen

from .conftest import TINY, screen_text, settled, wait_for
from .conftest import open_lesson, press_and_settle
from .test_lesson_screen import reference_w

TWO_HINTS = TINY.replace(
    "::::\n\n```python\nlr = 0.1",
    "::::\n\n::: hint\nThe cost falls every epoch.\n:::\n\n```python\nlr = 0.1",
)


def flat(app) -> str:
    return " ".join(screen_text(app).split())


async def test_E_runs_the_edited_cell_from_the_start_and_leaves_the_file_alone(make_app, lessons_dir):
    path = lessons_dir / "01-tiny.md"
    original = path.read_bytes()
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n", "n")  # in the loop of cell 2
        await pilot.press("E")
        assert isinstance(app.screen, EditCellScreen) and app.screen.cell.index == 1
        area = app.screen.query_one(TextArea)
        area.text = area.text.replace("range(5)", "range(3)")
        await pilot.press("ctrl+r")
        assert app.screen is screen
        # cell 1 ran again from a fresh namespace: the learner is at the edited cell
        await wait_for(pilot, lambda: not screen.resuming and settled(screen)
                       and screen.runner.state.status == "paused", what="the cells before it")
        state = screen.runner.state
        assert state.cells_done == (0,) and not state.costs
        assert "range(3)" in screen_text(app)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.runner.state.status == "done" and settled(screen))
        state = screen.runner.state
        assert len(state.costs) == 3
        w = next(v for v in state.tensors if v.name == "w")
        assert abs(w.value[0] - reference_w(3)) < 1e-6
    assert path.read_bytes() == original


async def test_E_with_a_syntax_error_shows_its_line_and_runs_nothing(make_app, lessons_dir):
    path = lessons_dir / "01-tiny.md"
    original = path.read_bytes()
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n", "n")
        runner, before = screen.runner, screen.runner.state
        await pilot.press("E")
        area = app.screen.query_one(TextArea)
        area.text = area.text.replace("for epoch in range(5):", "for epoch in range(5)")
        await pilot.press("ctrl+r")
        await pilot.pause(0.1)
        assert isinstance(app.screen, EditCellScreen)  # refused: still editing
        loop_line = screen.lesson.cells[1].line + 1  # `for` is the cell's second line
        assert f"line {loop_line}: expected ':'" in flat(app)
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.pause(0.2)
        assert screen.runner is runner and screen.runner.state is before  # nothing ran
        assert 1 not in screen.edits
    assert path.read_bytes() == original


async def test_p_typed_before_the_cell_runs_is_compared_after(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("p")
        assert isinstance(app.screen, PredictScreen) and app.screen.cell.index == 0
        await pilot.press(*"steady", "ctrl+s")
        assert app.screen is screen and screen.predictions == {0: "steady"}
        text = flat(app)
        assert "Your prediction (the cell has not run yet): │ steady" in text
        assert "(nothing printed yet)" in text
        await press_and_settle(pilot, screen, "n")
        text = flat(app)
        assert "The output differs from your prediction" in text
        assert "steady" in text and "(nothing printed yet)" not in text
        assert screen.runner.state.outputs[0] == "ready\n"
        # predicting the next cell, whose output has no expected block
        await pilot.press("p")
        assert app.screen.cell.index == 1
        await pilot.press(*"0 4.0", "ctrl+s")
        await press_and_settle(pilot, screen, "n", "n")
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.runner.state.status == "done" and settled(screen))
        assert "0 4.0" in flat(app)
        assert screen.query_one("#output").border_title.endswith("cell 2")


async def test_h_reveals_the_hints_one_at_a_time(make_app, lessons_dir):
    (lessons_dir / "01-tiny.md").write_text(TWO_HINTS, encoding="utf-8")
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        assert isinstance(screen, LessonScreen)
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert len(screen.lesson.sections[2].hints) == 2
        text = flat(app)
        assert "Watch the grad column." not in text and "The cost falls" not in text
        await pilot.press("h")
        await pilot.pause(0.1)
        text = flat(app)
        assert "hint 1/2" in text and "Watch the grad column." in text
        assert "The cost falls" not in text
        await pilot.press("h")
        await pilot.pause(0.1)
        assert "hint 2/2" in flat(app) and "The cost falls every epoch." in flat(app)
        await pilot.press("h")
        await pilot.pause(0.1)
        assert "No more hints in this section." in flat(app)
        await pilot.press("l")
        await pilot.pause(0.1)
        assert "기울기 열을 보세요." in flat(app)
        await pilot.press("left_square_bracket", "right_square_bracket")  # hidden again
        await pilot.pause(0.1)
        assert "기울기 열을 보세요." not in flat(app)
