"""One line: section, cell, iteration, lr, cost and the run state.

It takes plain values (not a RunState) so it can show "loading torch…" before the
engine exists. The state word is coloured through component classes, so the theme
decides the colours.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import Static

from tutor.ui.i18n import t


def fmt_cost(cost: float | None) -> str:
    if cost is None:
        return "-"
    if not math.isfinite(cost):
        return str(cost)  # nan, inf, -inf: shown as such
    return f"{cost:.6g}"


class StatusLine(Static):
    COMPONENT_CLASSES = {"status-line--state", "status-line--error", "status-line--dim"}

    def __init__(self, lang: str, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.lang = lang
        self._key: tuple | None = None

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        key, self._key = self._key, None
        if key is not None:
            self.show(*key[:-1])  # the same values, worded in the new language

    def show(
        self,
        section: str,
        cell: int | None,
        iteration: int | None,
        lr: float | None,
        cost: float | None,
        status: str,
        function: str | None = None,
        line: int | None = None,
        target: int | None = None,
    ) -> None:
        """`function`: paused inside this lesson-defined function, called from `cell`
        (shown as `train() ← cell 5`); `line`: the lesson line of an error; `target`:
        the section of "running_to"."""
        key = (section, cell, iteration, lr, cost, status, function, line, target, self.lang)
        if key == self._key:
            return
        self._key = key
        lang = self.lang
        dim = self.get_component_rich_style("status-line--dim")
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(section + "  ")
        if function is not None:
            text.append(f"{function}() ", "bold")
            text.append("← ", dim)
        text.append(f"{t('status.cell', lang)} ", dim)
        text.append("-" if cell is None else str(cell))
        if line is not None:
            text.append(f" {t('status.line', lang)} ", dim)
            text.append(str(line))
        text.append(f"  {t('status.iter', lang)} ", dim)
        text.append("-" if iteration is None else str(iteration))
        text.append("  lr ", dim)
        text.append("-" if lr is None else f"{lr:g}")
        text.append(f"  {t('status.cost', lang)} ", dim)
        bad = cost is not None and not math.isfinite(cost)
        text.append(fmt_cost(cost), self.get_component_rich_style("status-line--error") if bad else "")
        style = "status-line--error" if status == "error" else "status-line--state"
        text.append("  ")
        text.append(f" {t('status.' + status, lang, n=target)} ", self.get_component_rich_style(style))
        self.update(text)
