"""The code of a section's cells, highlighted, with the line about to run marked.

Line numbers are the lesson file's own (a cell's `line` is its first code line), so
they match tracebacks and `tutor check` messages. The marked line gets Rich's `❱` in
the gutter and a highlighted background, and the view scrolls to keep it visible. Cells
are separated by a rule naming them; `norun` cells carry a note saying they never run.
"""

from __future__ import annotations

from rich.console import Group
from rich.rule import Rule
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tutor.engine.lesson import Cell


def _cell_block(cell: Cell, marked: int | None, dark: bool, background: str | None):
    source = cell.source.rstrip("\n")
    n_lines = source.count("\n") + 1
    syntax = Syntax(
        source,
        "python",
        theme="ansi_dark" if dark else "ansi_light",
        line_numbers=True,
        start_line=cell.line,
        highlight_lines={marked} if marked is not None else set(),
        word_wrap=True,  # a learner reads whole lines; 80 columns crop too much
        background_color=background,
    )
    return syntax, n_lines


class CodeView(VerticalScroll):
    """Shows cells with `line` marked; feed it with `show()`."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.can_focus = False
        self._key: tuple | None = None

    def invalidate(self) -> None:
        """Render again on the next `show()` (after a theme change)."""
        self._key = None

    def compose(self):
        yield Static("", id="code-text")

    def show(
        self,
        cells: list[Cell],
        line: int | None,
        current: int | None = None,
        notes: dict[int, str] | None = None,
        dark: bool = True,
        empty: str = "",
    ) -> None:
        notes = notes or {}
        key = (tuple(cells), line, current, tuple(sorted(notes.items())), dark, empty)
        if key == self._key:
            return
        self._key = key
        body = self.query_one("#code-text", Static)
        if not cells:
            body.update(Text(empty, style="dim"))
            return
        parts = []
        row = 0
        marked_row = None
        for cell in cells:
            if len(cells) > 1:
                style = "bold" if cell.index == current else "dim"
                title = f"[{cell.index + 1}]"  # counted from 1, as everywhere a learner reads + (f" {notes[cell.index]}" if cell.index in notes else "")
                parts.append(Rule(title, style=style, align="left", characters="╌"))
                row += 1
            elif cell.index in notes:
                parts.append(Text(notes[cell.index], style="dim italic"))
                row += 1
            n_lines = cell.source.rstrip("\n").count("\n") + 1
            marked = line if line is not None and cell.line <= line < cell.line + n_lines else None
            if marked is not None and cell.index == current or (marked is not None and marked_row is None):
                marked_row = row + (marked - cell.line)
            block, n = _cell_block(cell, marked, dark, self.background_colors[1].hex)
            parts.append(block)
            row += n
        group = Group(*parts)
        body.update(group)
        if marked_row is not None:
            self.call_after_refresh(self._scroll_to_marker, group, marked_row)
        else:
            self.call_after_refresh(self.scroll_home, animate=False)

    def _scroll_to_marker(self, group: Group, fallback: int) -> None:
        """Scroll so the marked line shows a third from the top. Its row is found in
        the rendering at the pane's width (long lines wrap above it, so counting
        source lines would leave it out of view)."""
        row = marker_row(self.app.console, group, self.scrollable_content_region.width)
        height = self.scrollable_content_region.height
        target = max(0, (fallback if row is None else row) - max(height // 3, 1))
        self.scroll_to(y=target, animate=False)


def marker_row(console, renderable, width: int) -> int | None:
    """The row of the `❱` marker in `renderable` drawn `width` columns wide."""
    if width <= 0:
        return None
    lines = console.render_lines(renderable, console.options.update_width(width), pad=False)
    for row, line in enumerate(lines):
        for segment in line[:2]:  # the gutter comes first
            if "❱" in segment.text:
                return row
    return None
