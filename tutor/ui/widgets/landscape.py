"""The landscape view: the cost over one or two parameters and the learner's path.

It renders a `Landscape` (plain data computed in the engine, tutor/engine/state.py);
nothing here computes from tensors.

- 1 parameter: the cost curve over W (plotext, braille), the path as segments
  W_k → W_k+1 on it (a zig-zag across the bowl shows as a zig-zag, a run leaving
  the bowl climbs its walls), the tangent at the current point (its slope is the
  gradient) and the point itself.
- 2 parameters (or a slice along two directions): a heatmap of the cost, the path
  on top, the current point and an arrow along −gradient. plotext's own heatmap
  draws its cells as `█` glyphs, so a path drawn over it would blank every cell it
  crosses; here the cells are painted as backgrounds and the path is written over
  them. Colours follow log(cost − min), banded into levels so that the bands read
  like contour lines.
- Earlier runs' paths (same axes) are drawn dimmer.

A line above says the critical learning rate, `lr < 2/λmax = 0.180`, or that the lr
in force is above it and the run will diverge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from tutor.engine.state import Landscape
from tutor.ui.i18n import t

CURVE_COLOR = 39  # blue, like the cost plot's current run
STEP_COLOR = 208  # orange: the steps
TANGENT_COLOR = 70  # green
POINT_COLOR = 196  # red
EARLIER_COLOR = 245  # grey
LEVELS = 12  # colour bands of the heatmap
# viridis at 5 anchors (dark blue → yellow), interpolated
_VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
_ARROWS = "→↗↑↖←↙↓↘"


@dataclass(frozen=True)
class EarlierPath:
    """An earlier run's path over the same axes, drawn dimmer."""

    axes: tuple[str, ...]
    path: tuple[tuple[float, ...], ...]
    path_cost: tuple[float, ...] = ()


def fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}"


def axis_label(axis, lang: str) -> str:
    if not axis.direction:
        return axis.name
    share = "" if axis.explained is None else f" {axis.explained * 100:.0f}%"
    return t("landscape.direction", lang, name=axis.name, share=share)


def critical_line(land: Landscape | None, lr: float | None, lang: str) -> Text:
    """`lr 0.01 < 2/λmax = 0.180`, the divergence warning, or nothing."""
    if land is None or land.critical_lr is None:
        return Text("")
    crit = land.critical_lr
    if lr is not None and lr > crit:
        return Text(t("landscape.diverge", lang, lr=f"{lr:g}", crit=f"{crit:.3g}"), Style(color="red", bold=True))
    if lr is not None:
        return Text(t("landscape.stable", lang, lr=f"{lr:g}", crit=f"{crit:.3g}"))
    return Text(f"lr < 2/λmax = {crit:.3g}")


def _finite(pairs):
    return [(x, y) for x, y in pairs if math.isfinite(x) and math.isfinite(y)]


def build_curve(land: Landscape, earlier: tuple[EarlierPath, ...], width: int, height: int) -> Text:
    """One parameter: curve, earlier paths, the path's steps, tangent, point (plotext)."""
    import plotext

    plotext.terminal.limit(False, False)
    fig = plotext.figure
    fig.clear()
    fig.plot_size(max(width, 12), max(height, 4))
    fig.canvas("default")
    xs = land.axes[0].values
    curve = _finite(zip(xs, land.cost))
    lo_x, hi_x = xs[0], xs[-1]

    def draw(points, color):
        if points:
            px, py = zip(*points)
            fig.draw(fig.signal(list(px), list(py), marker=plotext.marker("braille", pixel=color)).lines())

    draw(curve, CURVE_COLOR)
    for run in earlier:
        draw([p for p in _finite((pt[0], c) for pt, c in zip(run.path, run.path_cost)) if lo_x <= p[0] <= hi_x],
             EARLIER_COLOR)
    steps = _finite((pt[0], c) for pt, c in zip(land.path, land.path_cost))
    draw(steps, STEP_COLOR)
    if land.point and land.point_cost is not None and math.isfinite(land.point_cost):
        w, c = land.point[0], land.point_cost
        if land.gradient is not None and math.isfinite(land.gradient[0]):
            half = (hi_x - lo_x) * 0.12
            g = land.gradient[0]
            draw([(w - half, c - g * half), (w + half, c + g * half)], TANGENT_COLOR)
        fig.draw(fig.signal([w], [c], marker=plotext.marker("●", pixel=POINT_COLOR)))
    # y: from the curve's lowest point to a little above the path's highest cost, so
    # the steps fill the plot (the curve's far walls are cut off)
    ys = [y for _, y in curve]
    top = max([y for _, y in steps], default=max(ys, default=0.0))
    if ys:
        low = min(ys + [y for _, y in steps])
        high = top + 0.15 * (top - low) if top > low else max(ys)
        if high > low:
            fig.ruler("y").lim(low, high)
    fig.ruler("x").lim(lo_x, hi_x)
    return _neutral(Text.from_ansi(fig.build().string().rstrip("\n")))


_KEEP = {CURVE_COLOR, STEP_COLOR, TANGENT_COLOR, POINT_COLOR, EARLIER_COLOR}


def _neutral(text: Text) -> Text:
    """plotext's axis and background colours assume a white background: keep only
    this view's series colours (as the cost plot does)."""
    spans = []
    for span in text.spans:
        style = span.style if isinstance(span.style, Style) else Style.parse(str(span.style))
        number = style.color.number if style.color is not None else None
        if number in _KEEP:
            spans.append(span._replace(style=Style(color=style.color)))
    text.spans = spans
    return text


def _rgb(u: float) -> Color:
    u = min(max(u, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    i = min(int(u), len(_VIRIDIS) - 2)
    f = u - i
    a, b = _VIRIDIS[i], _VIRIDIS[i + 1]
    return Color.from_rgb(*(round(a[k] + (b[k] - a[k]) * f) for k in range(3)))


def levels(cost: tuple[tuple[float, ...], ...]) -> list[list[int | None]]:
    """Each grid cost as a band 0..LEVELS-1 of log(1 + (c − min)/s) (None: not finite)."""
    finite = [c for row in cost for c in row if math.isfinite(c)]
    if not finite:
        return [[None for _ in row] for row in cost]
    low, high = min(finite), max(finite)
    s = max((high - low) / 1000, 1e-12)
    top = math.log1p((high - low) / s) or 1.0
    out = []
    for row in cost:
        out.append([
            None if not math.isfinite(c) else min(LEVELS - 1, int(math.log1p((c - low) / s) / top * LEVELS))
            for c in row
        ])
    return out


def _cell(value: float, axis_values: tuple[float, ...], cells: int) -> int | None:
    lo, hi = axis_values[0], axis_values[-1]
    if not math.isfinite(value) or hi <= lo or not (lo <= value <= hi):
        return None
    return min(cells - 1, int((value - lo) / (hi - lo) * cells))


def _line(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
    """Cells from a to b (Bresenham), b excluded."""
    (x0, y0), (x1, y1) = a, b
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x1 > x0 else -1), (1 if y1 > y0 else -1)
    err = dx + dy
    cells = []
    while (x0, y0) != (x1, y1) and len(cells) < 500:
        cells.append((x0, y0))
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy
    return cells


def build_heatmap(land: Landscape, earlier: tuple[EarlierPath, ...], width: int, height: int) -> Text:
    """Two axes: cost bands as cell backgrounds, axes[0] across, axes[1] up."""
    ax, ay = land.axes
    gutter = max(len(fmt(ay.values[0])), len(fmt(ay.values[-1]))) + 1
    cols = max(width - gutter, 8)
    rows = max(height - 1, 3)
    bands = levels(land.cost)
    nx, ny = len(ax.values), len(ay.values)
    colors = [_rgb(k / (LEVELS - 1)) for k in range(LEVELS)]
    # background band of each screen cell (row 0 at the top = largest axes[1] value)
    grid: list[list[int | None]] = []
    for r in range(rows):
        j = min(ny - 1, int((rows - 1 - r + 0.5) / rows * ny))
        grid.append([bands[min(nx - 1, int((c + 0.5) / cols * nx))][j] for c in range(cols)])
    marks: dict[tuple[int, int], tuple[str, Style]] = {}

    def to_cell(point) -> tuple[int, int] | None:
        c = _cell(point[0], ax.values, cols)
        r = _cell(point[1], ay.values, rows)
        return None if c is None or r is None else (c, rows - 1 - r)

    def trace(path, glyph: str, style: Style) -> None:
        cells = [to_cell(p) for p in path]
        prev = None
        for cell in cells:
            if cell is not None and prev is not None:
                for between in _line(prev, cell)[1:]:
                    marks.setdefault(between, ("·", style))
            if cell is not None:
                marks[cell] = (glyph, style)
            prev = cell

    for run in earlier:
        trace(run.path, "∙", Style(color=f"color({EARLIER_COLOR})"))
    path_style = Style(color="white", bold=True)
    trace(land.path, "•", path_style)
    here = to_cell(land.point) if land.point else None
    if here is not None:
        if land.gradient is not None and all(math.isfinite(g) for g in land.gradient):
            span_x = ax.values[-1] - ax.values[0]
            span_y = ay.values[-1] - ay.values[0]
            dx = -land.gradient[0] / span_x * cols if span_x else 0.0
            dy = -land.gradient[1] / span_y * rows * 2 if span_y else 0.0  # cells are ~2:1
            if dx or dy:
                k = round(math.atan2(dy, dx) / (math.pi / 4)) % 8
                step = ((1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1))[k]
                at = (here[0] + step[0], here[1] + step[1])
                if 0 <= at[0] < cols and 0 <= at[1] < rows:
                    marks[at] = (_ARROWS[k], Style(color=f"color({POINT_COLOR})", bold=True))
        marks[here] = ("●", Style(color=f"color({POINT_COLOR})", bold=True))
    lines = []
    for r in range(rows):
        label = ""
        if r == 0:
            label = fmt(ay.values[-1])
        elif r == rows - 1:
            label = fmt(ay.values[0])
        line = Text()
        line.append(label.rjust(gutter - 1) + " ", Style(dim=True))
        for c in range(cols):
            band = grid[r][c]
            bg = colors[band] if band is not None else Color.parse("red")
            glyph, style = marks.get((c, r), (" ", Style()))
            line.append(glyph, style + Style(bgcolor=bg))
        lines.append(line)
    left, right = fmt(ax.values[0]), fmt(ax.values[-1])
    bottom = " " * gutter + left + " " * max(1, cols - len(left) - len(right)) + right
    lines.append(Text(bottom, Style(dim=True)))
    return Text("\n").join(lines)


def legend(land: Landscape, lang: str) -> Text:
    """Which axis is which, and what the marks mean."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if len(land.axes) == 1:
        text.append(f"x {axis_label(land.axes[0], lang)}  ")
        text.append("━ ", Style(color=f"color({STEP_COLOR})"))
        text.append(t("landscape.steps", lang) + " ")
        text.append("━ ", Style(color=f"color({TANGENT_COLOR})"))
        text.append(t("landscape.tangent", lang))
    else:
        text.append(f"→ {axis_label(land.axes[0], lang)}  ↑ {axis_label(land.axes[1], lang)}  ")
        text.append("●", Style(color=f"color({POINT_COLOR})", bold=True))
        text.append(t("landscape.now", lang) + " ")
        text.append("→", Style(color=f"color({POINT_COLOR})", bold=True))
        text.append("−∇")
    return text


class LandscapeView(Widget):
    """Renders a Landscape; feed it with `show()`."""

    DEFAULT_CSS = """
    LandscapeView { height: 1fr; }
    """

    def __init__(self, lang: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lang = lang
        self._data: tuple = (None, None, None, ())
        self._cache_key: tuple | None = None
        self._cache: Text | None = None
        self.builds = 0

    def show(self, land: Landscape | None, problem: str | None, lr: float | None,
             earlier: tuple[EarlierPath, ...] = ()) -> None:
        data = (land, problem, lr, earlier)
        if data == self._data:
            return
        self._data = data
        self.refresh()

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size
        land, problem, lr, earlier = self._data
        key = (self._data, width, height, self.lang)
        if key == self._cache_key and self._cache is not None:
            return self._cache
        lang = self.lang
        if land is None:
            message = t(f"landscape.problem.{problem}", lang) if problem else t("landscape.empty", lang)
            result = Text(message, Style(dim=True))
        else:
            same = tuple(e for e in earlier if e.axes == tuple(a.name for a in land.axes))
            head = [line for line in (critical_line(land, lr, lang),) if line.plain]
            foot = [legend(land, lang)]
            room = max(height - len(head) - len(foot), 4)
            if len(land.axes) == 1:
                body = build_curve(land, same, width, room)
            else:
                body = build_heatmap(land, same, width, room)
            self.builds += 1
            result = Text("\n").join([*head, body, *foot])
        self._cache_key, self._cache = key, result
        return result


def earlier_paths(current: Landscape | None, landscapes) -> tuple[EarlierPath, ...]:
    """Earlier runs' paths over the same loop and axes as `current` (the compare
    overlay): their landscapes as kept by the session, newest first."""
    if current is None:
        return ()
    names = tuple(a.name for a in current.axes)
    out = []
    for land in landscapes:
        if land is None or (land.cell, land.loop) != (current.cell, current.loop):
            continue
        if tuple(a.name for a in land.axes) != names or any(a.direction for a in land.axes):
            continue  # directions of another run's PCA are not this run's
        out.append(EarlierPath(axes=names, path=land.path, path_cost=land.path_cost))
    return tuple(out)
