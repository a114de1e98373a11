"""The cost plot: cost per iteration drawn with plotext 6, one series per training
loop (labelled with its section, the current loop prominent, the run's earlier loops
dim), the learner's earlier runs in muted colours behind it, a mark where the learning
rate changed, and a red ✕ where a loop left the finite range.

A lesson with several loops (lesson 10 trains three, lesson 11 compares optimizers
loop by loop) shares one global step axis: joining its loops into one line would draw
a jump from one loop's last cost to the next loop's first and read as a spike.

plotext renders into a string of ANSI codes that Rich turns into `Text`. Its own
axis colours assume a white background, so axis and background colours are dropped
and the terminal's default foreground is used (right in light and dark themes);
only the series keep their colours. plotext raises on nan/inf, so non-finite points
(and, on a log axis, points <= 0) are filtered out and counted instead.

Building a plot costs milliseconds, so the widget rebuilds only when what it shows
changed (`show()` compares a key) and the screen throttles it while training runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from tutor.engine.state import CostPoint
from tutor.session import MAX_PREVIOUS, PreviousRun, lr_label  # noqa: F401  (the widget's data)
from tutor.ui.i18n import t

CURRENT_COLOR = 39  # xterm-256 blue: readable on black and on white
LR_MARK_COLOR = 208  # orange
PREVIOUS_COLORS = (245, 109, 139, 144, 103)  # muted: grey, teal, mauve, olive, lavender
EARLIER_LOOP_COLOR = 67  # the current run's earlier loops: a dim steel blue
NON_FINITE_COLOR = 196  # red: the ✕ at a loop's last finite point
NON_FINITE_MARK = "✕"


@dataclass(frozen=True)
class Loop:
    """One training loop's points of a run: `start:end` indexes into the run's costs;
    `exit` is the index of its last finite point when the loop went on to nan/inf
    (None when it stayed finite, or when not even its first point was finite)."""

    cell: int
    start: int
    end: int
    exit: int | None = None


_loop_cache: dict[int, tuple[object, int, list[Loop], int | None]] = {}


def split_loops(costs) -> tuple[Loop, ...]:
    """The loops of a run, in order: a new loop starts where the cell changes or the
    loop's own counter starts again (the same cell run a second time).

    Read once per point like `_hidden`: a run's costs only grow, so the scan resumes
    where it stopped (a free run of a million points stays cheap per redraw)."""
    if not costs:
        return ()
    key = id(costs[0])
    first, scanned, loops, bad = _loop_cache.get(key, (None, 0, [], None))
    if first is not costs[0] or scanned > len(costs):
        scanned, loops, bad = 0, [], None
    loops = list(loops)
    for i in range(scanned, len(costs)):
        p = costs[i]
        if i == 0 or p.cell != costs[i - 1].cell or p.iteration <= costs[i - 1].iteration:
            loops.append(Loop(p.cell, i, i + 1))
            bad = None  # the first non-finite index of the newest loop
        last = loops[-1]
        exit = last.exit
        finite = p.cost is not None and math.isfinite(p.cost)
        if not finite and bad is None:
            bad = i
            exit = i - 1 if i > last.start else None
        loops[-1] = Loop(last.cell, last.start, i + 1, exit)
    if len(_loop_cache) > 64:
        _loop_cache.clear()
    _loop_cache[key] = (costs[0], len(costs), loops, bad)
    return tuple(loops)


def loop_label(cell: int, cell_sections: tuple[int, ...]) -> str:
    """`§3`: the section holding the loop's cell ('' when the lesson's cells are not known)."""
    return f"§{cell_sections[cell]}" if 0 <= cell < len(cell_sections) else ""


def loop_legend(costs, loop: Loop, cell_sections: tuple[int, ...], lr: str | None = None) -> str:
    """A loop's legend words: its own lr and its section (`lr=0.1 §3`; the lr first,
    as the legend always began); `lr` given replaces the lr (a branch's label);
    empty parts are left out (a lesson without an lr: just `§3`)."""
    words = lr if lr is not None else lr_label(costs[loop.start:loop.end])
    return " ".join(w for w in (words, loop_label(loop.cell, cell_sections)) if w)


def final_cost(run: PreviousRun) -> str:
    """The last cost of an earlier run, as the status line writes costs."""
    from tutor.ui.widgets.status_line import fmt_cost

    return fmt_cost(run.costs[-1].cost) if run.costs else "-"


def short_label(value: float) -> str:
    """A log-axis label of at most 6 characters: 3e37, 1e-4, 0.01, 100."""
    if 1e-3 <= value < 1e5:
        text = f"{value:g}"
        if len(text) <= 6:
            return text
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten spanning [low, high] (positive), at most 5 of them evenly taken."""
    lo, hi = math.floor(math.log10(low)), math.ceil(math.log10(high))
    step = max(1, math.ceil((hi - lo) / 4))
    exponents = [lo + k * step for k in range(math.ceil((hi - lo) / step) + 1)]
    return [10.0 ** e for e in exponents]


def _bad(p: CostPoint, log: bool) -> bool:
    c = p.cost
    return c is None or not math.isfinite(c) or (log and c <= 0)


def _drawable(costs, log: bool, limit: int | None = None) -> tuple[list[int], list[float], int]:
    """Finite points (positive on a log axis), thinned to about `limit` points, and
    how many of all the points cannot be drawn.

    A braille plot 40 cells wide has 80 dots across; plotting 3000 points costs
    plotext a quarter of a second and shows nothing more, so every k-th point is
    taken (always the last one, so the curve ends where training is). The points are
    picked before they are looked at, so a long free run (a million points) costs the
    UI thread the same as a short one; only the count of hidden points reads them
    all, and that is kept per run (`_hidden`) as the run grows."""
    n = len(costs)
    if limit and n > limit:
        stride = math.ceil(n / limit)
        picked = [costs[i] for i in range(0, n, stride)]
        if (n - 1) % stride:
            picked.append(costs[-1])
    else:
        picked = costs
    xs = [p.step for p in picked if not _bad(p, log)]
    ys = [float(p.cost) for p in picked if not _bad(p, log)]
    return xs, ys, _hidden(costs, log)


_hidden_counts: dict[tuple[int, bool], tuple[object, int, int]] = {}


def _hidden(costs, log: bool) -> int:
    """Points that cannot be drawn; counted once per point: a run's cost tuple only
    grows (same first point), so only the new tail is read."""
    if not costs:
        return 0
    key = (id(costs[0]), log)
    first, counted, hidden = _hidden_counts.get(key, (None, 0, 0))
    if first is not costs[0] or counted > len(costs):
        counted = hidden = 0
    for i in range(counted, len(costs)):
        hidden += _bad(costs[i], log)
    if len(_hidden_counts) > 64:  # runs come and go: keep a few
        _hidden_counts.clear()
    _hidden_counts[key] = (costs[0], len(costs), hidden)
    return hidden


def _draw_loops(fig, plotext, costs, log, limit, color, current=None) -> tuple[list[float], int]:
    """Each loop of a run as its own line (`current`: the colour of its last loop), and
    a red ✕ at the last finite point of every loop that left the finite range.
    Returns the drawn costs (for the axis range) and how many ✕ were drawn."""
    all_ys: list[float] = []
    marks = 0
    loops = split_loops(costs)
    for n, loop in enumerate(loops):
        part = costs[loop.start:loop.end]
        xs, ys, _ = _drawable(part, log, max(8, limit * len(part) // max(len(costs), 1)))
        if xs:
            pixel = current if current is not None and n == len(loops) - 1 else color
            fig.draw(fig.signal(xs, ys, marker=plotext.marker("braille", pixel=pixel)).lines())
            all_ys += ys
        if loop.exit is not None and not _bad(costs[loop.exit], log):
            p = costs[loop.exit]
            fig.draw(fig.signal([p.step], [float(p.cost)],
                                marker=plotext.marker(NON_FINITE_MARK, pixel=NON_FINITE_COLOR)))
            marks += 1
    return all_ys, marks


def build_plot(
    costs: tuple[CostPoint, ...],
    lr_changes: tuple[int, ...],
    previous: tuple[PreviousRun, ...],
    log: bool,
    width: int,
    height: int,
) -> tuple[Text, int]:
    """The plot as Rich Text, and how many current points could not be drawn."""
    import plotext

    plotext.terminal.limit(False, False)
    fig = plotext.figure
    fig.clear()
    fig.plot_size(max(width, 10), max(height, 4))
    fig.canvas("default")
    all_ys: list[float] = []
    limit = 4 * max(width, 10)  # two braille dots per cell, twice over
    for i, run in enumerate(previous):
        ys, _ = _draw_loops(fig, plotext, run.costs, log, limit, PREVIOUS_COLORS[i % len(PREVIOUS_COLORS)])
        all_ys += ys
    # the lr marks span the whole range and lie under the current run, drawn last
    span = all_ys + _drawable(costs, log, limit)[1]
    if span:
        low, high = min(span), max(span)
        for step in lr_changes:
            fig.draw(
                fig.signal([step, step], [low, high], marker=plotext.marker("braille", pixel=LR_MARK_COLOR))
                .lines()
            )
    ys, _ = _draw_loops(fig, plotext, costs, log, limit, EARLIER_LOOP_COLOR, current=CURRENT_COLOR)
    all_ys += ys
    hidden = _hidden(costs, log)
    if log:
        fig.ruler("y").scale("log")
        if all_ys:
            ticks = log_ticks(min(all_ys), max(all_ys))
            fig.ruler("y").ticks(ticks, [short_label(v) for v in ticks])
    # Iterations are whole numbers, and a young curve should grow from the left
    # rather than stretch across the whole width: at least 0..10 on the x axis.
    # steps only grow within a run: each run's last point is its largest
    upper = max([10, *(c[-1].step for c in (costs, *(run.costs for run in previous)) if c)])
    every = max(1, math.ceil(upper / 4))
    fig.ruler("x").lim(0, upper)
    fig.ruler("x").ticks(list(range(0, upper + 1, every)))
    text = Text.from_ansi(fig.build().string())
    return _neutral_axes(text), hidden


_KEEP = {CURRENT_COLOR, LR_MARK_COLOR, EARLIER_LOOP_COLOR, NON_FINITE_COLOR, *PREVIOUS_COLORS}


def _neutral_axes(text: Text) -> Text:
    """Drop plotext's background and axis colours; keep only the series colours."""
    spans = []
    for span in text.spans:
        style = span.style if isinstance(span.style, Style) else Style.parse(str(span.style))
        color = style.color
        number = color.number if color is not None else None
        if number in _KEEP:
            spans.append(span._replace(style=Style(color=style.color)))
    text.spans = spans
    return text


class CostPlot(Widget):
    """Renders the cost curve; feed it with `show()`."""

    DEFAULT_CSS = """
    CostPlot { height: 1fr; }
    """

    def __init__(self, lang: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lang = lang
        self.log_scale = False
        self._costs: tuple[CostPoint, ...] = ()
        self._lr_changes: tuple[int, ...] = ()
        self._previous: tuple[PreviousRun, ...] = ()
        self._branch: str | None = None  # the current run is a branch: its label
        self._cell_sections: tuple[int, ...] = ()  # each lesson cell's section index
        self._cache_key: tuple | None = None
        self._cache: Text | None = None
        self.builds = 0  # how many times plotext ran (tests check it is not per tick)

    def show(
        self,
        costs: tuple[CostPoint, ...],
        lr_changes: tuple[int, ...],
        previous: tuple[PreviousRun, ...],
        branch: str | None = None,
        cell_sections: tuple[int, ...] | None = None,
    ) -> None:
        """`branch`: the current run branched from one of `previous` (its label,
        e.g. `lr 0.1 → 0.5 at iter 20`, shown instead of the current run's lr).
        `cell_sections`: the section index of each lesson cell (plain data, to label
        each loop with its section); None keeps the last ones given."""
        if cell_sections is None:
            cell_sections = self._cell_sections
        new = (costs, lr_changes, previous, branch, cell_sections)
        if new == (self._costs, self._lr_changes, self._previous, self._branch, self._cell_sections):
            return
        self._costs, self._lr_changes, self._previous, self._branch, self._cell_sections = new
        self.refresh()

    def set_log(self, log: bool) -> None:
        self.log_scale = log
        self.refresh()

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        self._cache_key = None
        self.refresh()

    def _legend(self, hidden: int, width: int) -> list[Text]:
        """Legend rows: the current loop, then the run's earlier loops (section and
        lr each); the earlier runs, each loop with its section and lr, and the run's
        final cost (at most two rows); the count of points that could not be drawn,
        with the ✕ that marks where a loop left the finite range."""
        rows = []
        legend = Text(no_wrap=True, overflow="ellipsis")
        sections = self._cell_sections
        loops = split_loops(self._costs)
        if loops:
            legend.append("━ ", Style(color=f"color({CURRENT_COLOR})"))
            words = loop_legend(self._costs, loops[-1], sections, self._branch)
            legend.append(" ".join(w for w in (t("plot.now", self.lang), words) if w) + " ")
            if len(loops) > 1:
                legend.append("━ ", Style(color=f"color({EARLIER_LOOP_COLOR})"))
                earlier = " · ".join(loop_legend(self._costs, loop, sections) for loop in reversed(loops[:-1]))
                legend.append(f"{earlier} ", Style(dim=True))
        if self._lr_changes:
            legend.append(t("plot.lr_mark", self.lang) + " ", Style(color=f"color({LR_MARK_COLOR})"))
        if self.log_scale:
            legend.append(f"[{t('plot.log', self.lang)}]", Style(bold=True))
        if legend.plain:
            rows.append(legend)
        if self._previous:
            earlier = Text()
            for i, run in enumerate(self._previous):
                color = PREVIOUS_COLORS[i % len(PREVIOUS_COLORS)]
                earlier.append("━ ", Style(color=f"color({color})"))
                earlier.append(f"{self._run_words(run)} → {final_cost(run)}  ", Style(dim=True))
            wrapped = earlier.wrap(self.app.console, max(width, 10), overflow="ellipsis", no_wrap=False)
            rows += list(wrapped)[:2]
        if hidden:
            marked = any(
                loop.exit is not None
                for run in (self._costs, *(r.costs for r in self._previous))
                for loop in split_loops(run)
            )
            note = t("plot.hidden", self.lang, n=hidden)
            rows.append(Text(f"{NON_FINITE_MARK} {note}" if marked else note, Style(color="red")))
        return rows

    def _run_words(self, run: PreviousRun) -> str:
        """An earlier run in the legend: its label (lr or branch), then each loop's
        section with the loop's lr when the run had several loops or lrs."""
        loops = split_loops(run.costs)
        if len(loops) <= 1:
            label = loop_label(loops[0].cell, self._cell_sections) if loops else ""
            return " ".join(w for w in (run.lr_label, label) if w) or "-"
        return " · ".join(loop_legend(run.costs, loop, self._cell_sections) for loop in loops)

    def render(self) -> Text:
        width, height = self.content_size
        key = (self._costs, self._lr_changes, self._previous, self._branch, self._cell_sections,
               self.log_scale, width, height, self.lang)
        if key == self._cache_key and self._cache is not None:
            return self._cache
        if not self._costs and not self._previous:
            result = Text(t("plot.empty", self.lang), style=Style(dim=True))
        else:
            _, _, hidden = _drawable(self._costs, self.log_scale)
            legend = self._legend(hidden, width)
            plot, _ = build_plot(
                self._costs, self._lr_changes, self._previous, self.log_scale,
                width, max(height - len(legend), 4),
            )
            self.builds += 1
            result = Text("\n").join([*legend, plot])
        self._cache_key, self._cache = key, result
        return result
