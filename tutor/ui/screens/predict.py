"""Predict first: the learner writes what a cell will print before it runs.

Two parts, used by the lesson screen for a cell that has an ```output block:

- `PredictScreen`, a modal screen (`p`) with a multi-line text area. `ctrl+s`
  returns the prediction (`str`) through `dismiss`; `escape` returns None. It sits at
  the bottom of the terminal so the cell's code stays visible above it. (`enter`
  inserts a newline; `ctrl+enter` is not told apart from `enter` by most terminals,
  so it is not used.)
- `prediction_result(prediction, actual, lang)` (a Rich renderable) and the
  `PredictionResult` widget around it, shown once the cell ran: a ✓/✗ verdict and
  the prediction beside the actual output, line by line, each row marked. Matching
  is `tutor.engine.compare`'s, the same rule as `tutor check --run` (blank lines
  and whitespace ignored, numbers within 1e-4), so rows pair non-blank lines.
"""

from __future__ import annotations

from itertools import zip_longest

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text as RichText
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Footer, Static, TextArea

from tutor.engine.compare import compare_output, lines_match
from tutor.engine.lesson import Cell
from tutor.ui.i18n import localize_bindings, t




def outputs_match(expected: str, got: str) -> bool:
    return compare_output(expected, got) is None


def _lines(text: str) -> list[str]:
    """Non-blank lines, as the comparison pairs them."""
    return [line for line in text.splitlines() if line.strip()]


def prediction_result(prediction: str, actual: str | None, lang: str = "en") -> RenderableType:
    """The prediction beside the actual output, each line pair marked ✓ or ✗.

    `actual` None means the cell has not run: only the prediction is shown.
    """
    if actual is None:
        return Group(
            RichText(t("predict.waiting", lang), style="bold"),
            RichText(prediction.rstrip("\n")),
        )
    matched = outputs_match(prediction, actual)
    verdict = RichText(
        t("predict.match" if matched else "predict.differ", lang),
        style="bold green" if matched else "bold red",
    )
    table = Table(expand=True, box=None, pad_edge=False, show_edge=False)
    table.add_column("", width=1, no_wrap=True)
    table.add_column(t("predict.prediction", lang), ratio=1, overflow="fold")
    table.add_column(t("predict.actual", lang), ratio=1, overflow="fold")
    for guess, got in zip_longest(_lines(prediction), _lines(actual), fillvalue=None):
        same = guess is not None and got is not None and lines_match(guess, got)
        table.add_row(
            RichText("✓", style="green") if same else RichText("✗", style="red"),
            RichText(guess if guess is not None else "", style="" if same else "yellow"),
            RichText(got if got is not None else ""),
        )
    return Group(verdict, table)


class PredictionResult(Widget):
    """Shows `prediction_result` for its reactive `prediction`/`actual`/`lang`."""

    DEFAULT_CSS = """
    PredictionResult {
        height: auto;
        padding: 0 1;
    }
    """

    prediction: reactive[str] = reactive("", layout=True)
    actual: reactive[str | None] = reactive(None, layout=True)
    lang: reactive[str] = reactive("en", layout=True)

    def __init__(
        self, prediction: str = "", actual: str | None = None, lang: str = "en", **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.set_reactive(PredictionResult.prediction, prediction)
        self.set_reactive(PredictionResult.actual, actual)
        self.set_reactive(PredictionResult.lang, lang)

    @property
    def matched(self) -> bool | None:
        """Whether the prediction matches the output; None before the cell ran."""
        if self.actual is None:
            return None
        return outputs_match(self.prediction, self.actual)

    def render(self) -> RenderableType:
        return prediction_result(self.prediction, self.actual, self.lang)


class PredictScreen(ModalScreen[str | None]):
    """Ask what `cell` will print; dismiss with the text or None."""

    DEFAULT_CSS = """
    PredictScreen {
        align: center bottom;
    }
    PredictScreen > #predict-dialog {
        width: 100%;
        max-width: 120;
        height: 13;
        border: round $accent;
        background: $surface;
        padding: 0 1;
        margin-bottom: 1;
    }
    PredictScreen #predict-title {
        text-style: bold;
    }
    PredictScreen #predict-keys {
        color: $text-muted;
    }
    PredictScreen #predict-text {
        height: 1fr;
    }
    PredictScreen #predict-message {
        color: $warning;
        height: auto;
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "submit", "Done", id="predict.submit", priority=True),
        Binding("escape", "cancel", "Cancel", id="predict.cancel", priority=True),
    ]

    def __init__(self, cell: Cell, lang: str = "en", prediction: str = "") -> None:
        """`prediction`: an earlier prediction to start from."""
        super().__init__()
        self.cell = cell
        self.lang = lang
        self.initial = prediction
        localize_bindings(self, lang)

    def compose(self) -> ComposeResult:
        with Vertical(id="predict-dialog"):
            yield Static(t("predict.title", self.lang, number=self.cell.index + 1), id="predict-title")
            yield Static(t("predict.keys", self.lang), id="predict-keys")
            yield TextArea(self.initial, id="predict-text", soft_wrap=True)
            yield Static("", id="predict-message")
        yield Footer()

    def on_mount(self) -> None:
        text_area = self.query_one("#predict-text", TextArea)
        text_area.focus()
        text_area.move_cursor(text_area.document.end)

    def action_submit(self) -> None:
        text = self.query_one("#predict-text", TextArea).text
        if not text.strip():
            self.query_one("#predict-message", Static).update(t("predict.empty", self.lang))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
