"""Tensor table: name, shape, value and gradient of every tensor at the last pause.

The runner already orders the tensors (parameters first) and marks what changed
since the previous pause; this widget only formats them. Small tensors show their
numbers, flattened; big ones show mean and std. Changed values and gradients are
highlighted, and a one-element tensor shows the direction it moved (↑/↓).
Column widths come from Rich, which measures Hangul as two cells, so the headers
line up in both languages.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tutor.engine.state import TensorView
from tutor.ui.i18n import t


def _flat(value) -> list[float]:
    if isinstance(value, list):
        out: list[float] = []
        for item in value:
            out.extend(_flat(item))
        return out
    return [value]


def fmt_number(x) -> str:
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def fmt_values(value, stats: dict | None, limit: int = 6) -> str:
    """`0.28` (also for one-element tensors), `[0.28 1.5 …]` (6 at most), `μ0.01 σ0.2` for big tensors, `-` for none."""
    if value is None:
        if stats:
            return f"μ{fmt_number(stats.get('mean'))} σ{fmt_number(stats.get('std'))}"
        return "-"
    flat = _flat(value)
    if not isinstance(value, list) or len(flat) == 1:  # the shape column shows the nesting
        return fmt_number(flat[0])
    shown = " ".join(fmt_number(x) for x in flat[:limit])
    return f"[{shown}{' …' if len(flat) > limit else ''}]"


def fmt_shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape) if shape else "()"


def _direction(view: TensorView) -> str:
    if view.delta is None:
        return ""
    flat = _flat(view.delta)
    if len(flat) != 1 or not isinstance(flat[0], (int, float)):
        return ""
    d = flat[0]
    return " ↑" if d > 0 else " ↓" if d < 0 else ""


class TensorTable(Static):
    """Renders a tuple of TensorView; feed it with `show()`."""

    COMPONENT_CLASSES = {
        "tensor-table--header",
        "tensor-table--param",
        "tensor-table--changed",
        "tensor-table--dim",
    }

    def __init__(self, lang: str, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.lang = lang
        self._tensors: tuple[TensorView, ...] | None = None

    def show(self, tensors: tuple[TensorView, ...]) -> None:
        if tensors is self._tensors or tensors == self._tensors:
            return
        self._tensors = tensors
        self.update(self._table())

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        if self._tensors is not None:
            self.update(self._table())

    def on_mount(self) -> None:
        self.update(self._table())

    def _table(self):
        tensors = self._tensors or ()
        dim = self.get_component_rich_style("tensor-table--dim")
        if not tensors:
            return Text(t("tensors.none", self.lang), style=dim)
        header = self.get_component_rich_style("tensor-table--header")
        param = self.get_component_rich_style("tensor-table--param")
        changed = self.get_component_rich_style("tensor-table--changed")
        table = Table(box=None, padding=(0, 1, 0, 0), expand=True, show_edge=False, header_style=header)
        table.add_column(t("tensors.name", self.lang), no_wrap=True, overflow="ellipsis", max_width=18)
        table.add_column(t("tensors.shape", self.lang), no_wrap=True, overflow="ellipsis", max_width=9)
        table.add_column(t("tensors.value", self.lang), no_wrap=True, overflow="ellipsis", ratio=1)
        table.add_column(t("tensors.grad", self.lang), no_wrap=True, overflow="ellipsis", ratio=1)
        for view in tensors:
            name = Text(view.name, style=param if view.is_parameter else "")
            value = Text(
                fmt_values(view.value, view.stats) + _direction(view),
                style=changed if view.changed else "",
            )
            if view.grad is None and view.grad_stats is None:
                grad = Text("-", style=dim)
            else:
                grad = Text(
                    fmt_values(view.grad, view.grad_stats),
                    style=changed if view.grad_changed else "",
                )
            table.add_row(name, Text(fmt_shape(view.shape), style=dim), value, grad)
        return table
