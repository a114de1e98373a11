"""What the current cell printed, and its expected output once it has run.

The matplotlib figures a cell showed are drawn under its text (plotext, at the
pane's width; engine/figures.py). Predict, then compare: a cell's ```output block stays hidden until the cell ran to
its end; then it is shown under the real output with a ✓/✗ mark. A prediction the
learner typed (`p`) is shown too, line by line beside the output once the cell ran. Errors from the
lesson code and hints (e.g. the learning rate is too large) are shown here too,
below the output (the pane follows its end), so the learner sees them where they
look for results however much the cell printed.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tutor.engine.compare import compare_output
from tutor.ui.i18n import t
from tutor.ui.screens.predict import prediction_result

TAIL_LINES = 200  # enough to scroll back; rendering 10k printed lines per tick is not


class OutputPane(VerticalScroll):
    """Feed it with `show()`; it re-renders only when its input changed."""

    COMPONENT_CLASSES = {"output-pane--error", "output-pane--hint", "output-pane--ok", "output-pane--bad",
                         "output-pane--stderr"}

    def __init__(self, lang: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.can_focus = False
        self.lang = lang
        self._key: tuple | None = None

    def compose(self):
        yield Static("", id="output-text")

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        key, self._key = self._key, None
        if key is not None:
            self.show(*key[:-1])

    def show(
        self,
        text: str | None,
        expected: str | None,
        ran: bool,
        error: str | None = None,
        hint: str | None = None,
        truncated: bool = False,
        prediction: str | None = None,
        figures: tuple = (),
        not_own: tuple[str, dict] | None = None,
        stderr: str | None = None,
    ) -> None:
        """`figures`: the cell's matplotlib figures (FigureView data), drawn as text
        under what it printed, at the pane's width. `not_own`: the run did not use the
        lesson's own lr or code (an i18n key and its values): no ✓/✗, a note instead,
        the expected text folded to its line count. `stderr`: what the cell wrote to
        sys.stderr (warnings, logging, progress bars), under its output in its own
        style and never compared."""
        key = (text, expected, ran, error, hint, truncated, prediction, figures, not_own, stderr, self.lang)
        if key == self._key:
            return
        self._key = key
        parts = []
        if text:  # what the run printed, always first
            lines = terminal_lines(text)
            parts.append(Text("\n".join(lines[-TAIL_LINES:])))
            if truncated or len(lines) > TAIL_LINES:  # the pane keeps the tail only
                parts.append(Text(t("output.truncated", self.lang), style="dim"))
        elif not error and not figures and not stderr:
            parts.append(Text(t("output.none", self.lang), style="dim"))
        if stderr:
            lines = terminal_lines(stderr)
            parts.append(Text("\n".join(lines[-TAIL_LINES:]),
                              style=self.get_component_rich_style("output-pane--stderr")))
        if figures:
            from tutor.engine.figures import render

            width = max(30, (self.size.width or 80) - 4)
            for figure in figures:
                parts.append(Text(render(figure, width=width, height=12)))
        if expected is not None:
            if ran and not_own is not None:
                note_key, values = not_own
                n = expected.rstrip("\n").count("\n") + 1
                parts.append(Text(t(note_key, self.lang, **values) + " "
                                  + t("output.folded", self.lang, n=n), style="dim italic"))
            elif ran:
                mismatch = compare_output(expected, text or "")  # same rule as check --run
                same = mismatch is None
                mark = t("output.match" if same else "output.mismatch", self.lang)
                style = self.get_component_rich_style("output-pane--ok" if same else "output-pane--bad")
                parts.append(Text(mark, style=style))
                if not same:
                    parts.append(Text(t("output.differs_at", self.lang, n=mismatch.index + 1,
                                        expected=_shown(mismatch.expected, self.lang),
                                        got=_shown(mismatch.got, self.lang)), style="dim"))
                    parts.append(Text(t("output.expected", self.lang), style="dim"))
                    parts.append(Text(expected.rstrip("\n"), style="dim"))
            elif prediction is None:
                parts.append(Text(t("output.hidden", self.lang), style="dim italic"))
        if prediction is not None:
            # the learner's own prediction (p): beside the real output once the cell ran
            parts.append(prediction_result(prediction, (text or "") if ran else None, self.lang))
        if error:
            parts.append(Text(error, style=self.get_component_rich_style("output-pane--error")))
        if hint:
            parts.append(Text(hint, style=self.get_component_rich_style("output-pane--hint")))
        self.query_one("#output-text", Static).update(Group(*parts))
        # An error or hint (last) must be seen; otherwise the top: the run's own
        # output first, never the lesson's expected text at the bottom instead.
        if error or hint:
            self.call_after_refresh(self.scroll_end, animate=False)
        else:
            self.call_after_refresh(self.scroll_home, animate=False)


def terminal_lines(text: str) -> list[str]:
    """The lines as a terminal shows them: a carriage return starts its line over (a
    progress bar redrawn in place shows its last state, not every one)."""
    lines = []
    for line in text.rstrip("\n").split("\n"):
        if "\r" in line:
            drawn = [part for part in line.split("\r") if part]
            line = drawn[-1] if drawn else ""
        lines.append(line)
    return lines


def _shown(line: str | None, lang: str) -> str:
    """A compared line as the learner reads it (shortened; "nothing" past the end)."""
    if line is None:
        return t("output.no_line", lang)
    line = line.strip()
    return line if len(line) <= 40 else line[:39] + "…"
