"""Tensor table: name, shape, value and gradient of every tensor at the last pause.

The runner marks what changed since the previous pause; this widget orders the
rows (`table_order`: parameters first with their grads, then what changed, the
unchanging data last) and formats them. Small tensors show as many of their
numbers, flattened, as the value and grad columns have room for (`fit_values`:
the columns take the width the pane has); big ones show mean and std. Changed
values and gradients are highlighted, and a one-element tensor shows the
direction it moved (↑/↓).
Column widths come from Rich, which measures Hangul as two cells, so the headers
line up in both languages.
"""

from __future__ import annotations

from rich.cells import cell_len
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


def fit_values(value, stats: dict | None, width: int) -> str:
    """fmt_values with as many numbers as fit in `width` cells (at least one)."""
    if value is None or not isinstance(value, list):
        return fmt_values(value, stats)
    flat = _flat(value)
    if len(flat) == 1:
        return fmt_number(flat[0])
    parts = [fmt_number(x) for x in flat]
    shown = 1
    while shown < len(parts):
        more = shown + 1 < len(parts)
        text = "[" + " ".join(parts[: shown + 1]) + (" …]" if more else "]")
        if len(text) > width:
            break
        shown += 1
    return fmt_values(value, stats, limit=shown)


def table_order(tensors: tuple[TensorView, ...]) -> tuple[TensorView, ...]:
    """Parameters first (the runner's order), then tensors that changed since the
    last pause (value or grad), then the rest: data that never changes sinks."""
    def rank(view: TensorView) -> int:
        if view.is_parameter:
            return 0
        return 1 if view.changed or view.grad_changed else 2

    return tuple(sorted(tensors, key=rank))  # sorted is stable: ties keep their order


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

    def on_resize(self) -> None:
        if self._tensors is not None:  # the value columns fit the new width
            self.update(self._table())

    def _value_width(self, tensors: tuple[TensorView, ...]) -> int:
        """Cells the value and the grad column each get: the pane's width less the
        name and shape columns (as wide as their longest entry, capped) and the
        padding, halved."""
        width = self.size.width or 40
        name = min(18, max(cell_len(t("tensors.name", self.lang)), *(len(v.name) for v in tensors)))
        shape = min(9, max(cell_len(t("tensors.shape", self.lang)), *(len(fmt_shape(v.shape)) for v in tensors)))
        return max(6, (width - name - shape - 3) // 2)

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
        width = self._value_width(tensors)
        for view in table_order(tensors):
            name = Text(view.name, style=param if view.is_parameter else "")
            direction = _direction(view)
            value = Text(
                fit_values(view.value, view.stats, width - len(direction)) + direction,
                style=changed if view.changed else "",
            )
            if view.grad is None and view.grad_stats is None:
                grad = Text("-", style=dim)
            else:
                grad = Text(
                    fit_values(view.grad, view.grad_stats, width),
                    style=changed if view.grad_changed else "",
                )
            table.add_row(name, Text(fmt_shape(view.shape), style=dim), value, grad)
        return table
