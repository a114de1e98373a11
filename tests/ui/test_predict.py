"""PredictScreen in a tiny host app, and the prediction-vs-output result."""

from __future__ import annotations

import io

from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import Static, TextArea

from tutor.engine.lesson import Cell, OutputBlock
from tutor.ui.screens.predict import PredictionResult, PredictScreen, prediction_result

CELL = Cell(4, "w = torch.tensor([1.0, 2.0])\nprint(w * 2)\n", 30, 2,
            expected=OutputBlock("tensor([2., 4.])\n", 33))


def as_text(renderable, width: int = 80) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


class Host(App[None]):
    def __init__(self, screen: PredictScreen) -> None:
        super().__init__()
        self.predict_screen = screen
        self.results: list[str | None] = []

    def compose(self) -> ComposeResult:
        yield Static("the lesson screen would be here", id="behind")

    def on_mount(self) -> None:
        self.push_screen(self.predict_screen, callback=self.results.append)


async def test_multiline_prediction_is_returned_on_ctrl_s() -> None:
    app = Host(PredictScreen(CELL))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text_area = app.screen.query_one("#predict-text", TextArea)
        assert text_area.has_focus
        assert "cell 5" in str(app.screen.query_one("#predict-title", Static).render())
        await pilot.press(*"tensor([2., 4.])", "enter", *"done")
        assert app.results == []  # enter made a new line, it did not submit
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results == ["tensor([2., 4.])\ndone"]
        assert app.screen is not app.predict_screen


async def test_escape_cancels_and_empty_is_refused() -> None:
    app = Host(PredictScreen(CELL, lang="ko"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert [key.description for key in app.screen.query("FooterKey")] == ["완료", "취소"]
        await pilot.press("space", "enter", "ctrl+s")
        await pilot.pause()
        assert app.results == []
        message = str(app.screen.query_one("#predict-message", Static).render())
        assert "먼저 셀이 출력할 내용을 적어 보세요." in message
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None]


async def test_starts_from_an_earlier_prediction_with_cursor_at_end() -> None:
    app = Host(PredictScreen(CELL, prediction="tensor([2.,"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*" 4.])", "ctrl+s")
        await pilot.pause()
        assert app.results == ["tensor([2., 4.])"]


async def test_dialog_leaves_the_top_of_the_screen_visible() -> None:
    app = Host(PredictScreen(CELL))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        dialog = app.screen.query_one("#predict-dialog")
        assert dialog.region.y >= 8 and dialog.region.bottom <= 23  # footer below it


def test_result_marks_a_match() -> None:
    text = as_text(prediction_result("tensor([2., 4.])  \n", "tensor([2., 4.])\n", "en"))
    assert "✓ Your prediction matches the output." in text
    assert "your prediction" in text and "output" in text
    assert "✗" not in text


def test_result_marks_differing_lines() -> None:
    prediction = "step 0\ncost 0.5\n"
    actual = "step 0\ncost 0.25\nfinished\n"
    text = as_text(prediction_result(prediction, actual, "ko"))
    assert "✗ 출력이 예상과 다릅니다." in text
    rows = [line for line in text.splitlines() if "step 0" in line or "cost" in line or "finished" in line]
    assert rows[0].lstrip().startswith("✓")  # step 0 == step 0
    assert rows[1].lstrip().startswith("✗") and "0.5" in rows[1] and "0.25" in rows[1]
    assert rows[2].lstrip().startswith("✗") and "finished" in rows[2]  # nothing predicted


def test_result_numbers_within_tolerance_match() -> None:
    text = as_text(prediction_result("loss 0.123456\n", "loss 0.123457\n", "en"))
    assert "✓ Your prediction matches" in text


def test_result_follows_the_check_rules_for_blank_lines_and_spacing() -> None:
    prediction = "tensor([1., -2.])\n\nloss 3\n"
    actual = "tensor([ 1., -2.])\nloss 3.00001\n"
    text = as_text(prediction_result(prediction, actual, "en"))
    assert "✓ Your prediction matches" in text
    assert "✗" not in text  # the blank line is not a row of its own
    assert "✗ The output differs" in as_text(prediction_result("loss 3\n", "cost 3\n", "en"))


def test_result_before_the_cell_ran_shows_only_the_prediction() -> None:
    text = as_text(prediction_result("42\n", None, "en"))
    assert "has not run yet" in text and "42" in text and "✓" not in text and "✗" not in text


async def test_prediction_result_widget_follows_its_attributes() -> None:
    class ResultHost(App[None]):
        def compose(self) -> ComposeResult:
            yield PredictionResult("6\n", None, lang="en", id="result")

    app = ResultHost()
    async with app.run_test(size=(80, 24)) as pilot:
        widget = app.query_one(PredictionResult)
        assert widget.matched is None
        widget.actual = "6\n"
        await pilot.pause()
        assert widget.matched is True
        assert "✓ Your prediction matches" in as_text(widget.render())
        widget.actual = "7\n"
        widget.lang = "ko"
        await pilot.pause()
        assert widget.matched is False
        assert "✗ 출력이 예상과 다릅니다." in as_text(widget.render())
        assert widget.region.height >= 3
