"""Tensors as aligned matrices, coloured by sign and magnitude (the inspector's body).

A block is one tensor (value, grad or an optimizer state tensor) laid out as a
matrix: a 0-d tensor is one number, a vector a row (a column when long), a
matrix its rows, higher dimensions their rows stacked (shape[:-1] flattened).
Every number has 4 significant digits and is right-aligned in its column, so
columns line up. Its style says sign and magnitude (diverging: negative and
positive in two hues, three strengths by |x| against the block's largest |x|);
the colours come from app.tcss (`MatrixView > .matrix--neg-3` ...), so themes
can set them and they read in light and dark themes at 256 colours. A value that
changed since the last pause carries ▲ or ▼ (readable without colour too).

Blocks are placed side by side while they fit the width, else below each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from textual.content import Content, Span
from textual.style import Style as ContentStyle
from textual.widgets import Static

from tutor.ui.widgets.update_view import fmt

LONG_VECTOR = 8  # a vector longer than this is shown as a column
GAP = 3  # cells between blocks side by side
LEVELS = ("neg-3", "neg-2", "neg-1", "zero", "pos-1", "pos-2", "pos-3")


def as_rows(value) -> list[list[float]]:
    """A nested list (any depth) as rows of numbers."""
    if not isinstance(value, list):
        return [[value]]
    if not value:
        return [[]]
    if not isinstance(value[0], list):
        return [list(value)] if len(value) <= LONG_VECTOR else [[x] for x in value]
    rows: list[list[float]] = []

    def walk(item) -> None:
        if item and isinstance(item[0], list):
            for sub in item:
                walk(sub)
        else:
            rows.append(list(item))

    walk(value)
    return rows


def level(x, biggest: float) -> str:
    """The colour level of x: its sign and its size against the block's largest."""
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return "zero"
    if x != x:  # nan
        return "neg-3"
    if x == 0 or biggest == 0:
        return "zero"
    share = abs(x) / biggest if biggest != float("inf") else (1.0 if abs(x) == biggest else 0.0)
    strength = 3 if share > 2 / 3 else 2 if share > 1 / 3 else 1
    return f"{'neg' if x < 0 else 'pos'}-{strength}"


def _biggest(rows: list[list[float]]) -> float:
    sizes = [abs(x) for row in rows for x in row
             if isinstance(x, (int, float)) and not isinstance(x, bool) and x == x]
    return max(sizes, default=0.0)


@dataclass
class Block:
    """One tensor laid out: lines as (plain text, [(start, end, style)]) pairs.

    Plain strings and offsets, turned into one Content by `layout`: building a Text
    per number made a 64×64 block take a second on the shared machine."""

    title: str
    lines: list[tuple[str, list]]
    width: int = 0  # cells: the widest line or the title

    def __post_init__(self) -> None:
        if not self.width:  # numbers, signs and ▲▼ are one cell each: len() is the width
            self.width = max([cell_len(self.title)] + [len(plain) for plain, _ in self.lines])


def matrix_block(title: str, value, styles: dict, delta=None) -> Block:
    """One tensor as aligned lines; `delta` (same nesting) marks changed numbers."""
    rows = as_rows(value)
    drows = as_rows(delta) if delta is not None else None
    if drows is not None and [len(r) for r in drows] != [len(r) for r in rows]:
        drows = None
    texts = [[fmt(x) if isinstance(x, (int, float)) else str(x) for x in row] for row in rows]
    width = max((len(s) for row in texts for s in row), default=1)
    biggest = _biggest(rows)
    changed = styles.get("changed", "")
    by_level = {name: styles.get(name, "") for name in LEVELS}
    lines = []
    for r, row in enumerate(rows):
        parts: list[str] = []
        spans: list[tuple[int, int, object]] = []
        at = 0
        drow = drows[r] if drows is not None else None
        for c, x in enumerate(row):
            if c:
                parts.append(" ")
                at += 1
            cell = texts[r][c].rjust(width)
            parts.append(cell)
            style = by_level[level(x, biggest)]
            if style:
                spans.append((at, at + width, style))
            at += width
            if drow is not None:
                d = drow[c]
                if d > 0 or d < 0:  # (nan compares False both ways: unmarked)
                    parts.append("▲" if d > 0 else "▼")
                    if changed:
                        spans.append((at, at + 1, changed))
                else:
                    parts.append(" ")
                at += 1
        lines.append(("".join(parts), spans))
    return Block(title, lines)


def layout(blocks: list[Block], width: int, title_style=None) -> Content:
    """Blocks side by side while they fit in `width`, the rest below (a blank line
    between rows of blocks), as one Content (styles: textual Styles, so nothing is
    converted per number when it is drawn)."""
    rows: list[list[Block]] = []
    for block in blocks:
        if rows and sum(b.width for b in rows[-1]) + GAP * len(rows[-1]) + block.width <= width:
            rows[-1].append(block)
        else:
            rows.append([block])
    out: list[str] = []
    spans: list[Span] = []
    at = 0

    def put(text: str, line_spans=(), style=None) -> None:
        nonlocal at
        if style:
            spans.append(Span(at, at + len(text), style))
        for a, b, st in line_spans:
            spans.append(Span(at + a, at + b, st))
        out.append(text)
        at += len(text)

    gap = " " * GAP
    for n, row in enumerate(rows):
        if n:
            put("\n\n")
        height = max(len(b.lines) for b in row)
        for k, block in enumerate(row):
            if k:
                put(gap)
            put(block.title + " " * (block.width - cell_len(block.title)), style=title_style or None)
        for i in range(height):
            put("\n")
            for k, block in enumerate(row):
                if k:
                    put(gap)
                if i < len(block.lines):
                    plain, line_spans = block.lines[i]
                    put(plain + " " * (block.width - len(plain)), line_spans)
                else:
                    put(" " * block.width)
    return Content("".join(out), spans=spans)


class MatrixView(Static):
    """Renders blocks given as (title, value, delta) with the colours of app.tcss."""

    COMPONENT_CLASSES = {f"matrix--{name}" for name in LEVELS} | {"matrix--changed", "matrix--title"}

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._blocks: tuple = ()
        self._width = 78

    def show(self, blocks: tuple, width: int) -> None:
        """`blocks`: (title, value, delta or None) each; `width`: the cells available."""
        if blocks == self._blocks and width == self._width:
            return
        self._blocks, self._width = blocks, width
        self._render_blocks()

    def on_mount(self) -> None:
        self._render_blocks()

    def _render_blocks(self) -> None:
        if not self.is_mounted:
            return
        def style(name: str):
            rich = self.get_component_rich_style(f"matrix--{name}")
            return ContentStyle.from_rich_style(rich) if rich else None

        styles = {name: style(name) for name in LEVELS}
        styles["changed"] = style("changed")
        built = [matrix_block(title, value, styles, delta) for title, value, delta in self._blocks]
        self.update(layout(built, self._width, style("title")) if built else "")
