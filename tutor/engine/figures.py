"""matplotlib figures as plain data, and that data drawn as text with plotext.

Lessons made from notebooks plot (`plt.plot`, `scatter`, `hist`, `imshow`,
`subplots`, labels, legends). A terminal cannot show the PNG, so the figure's
artists are read instead (`read_figure`, in the lesson's process, where the figure
lives) into a `FigureView` of plain tuples that can travel to the app; `render`
draws one as text with plotext (`tutor run` prints it, the app's output pane shows
it). Images become grey-level characters. Nothing here may break a lesson: a
figure that cannot be read or drawn becomes a one-line note.
"""

from __future__ import annotations

import math
from typing import Any

from tutor.engine.state import FigureView, PlotAxes, PlotSeries

# Called with (figure, number) for each figure the lesson shows, by mpl_backend.py
# (the runner sets it; kept here because importing mpl_backend imports matplotlib).
sink: Any = None

MAX_POINTS = 2000  # points per series kept (evenly thinned beyond)
IMAGE_SIZE = (16, 32)  # rows, columns of characters for an image at most
RAMP = " .:-=+*#%@"  # grey levels, dark to bright


def _floats(values: Any) -> tuple[float, ...]:
    import numpy as np

    array = np.ma.filled(np.ma.asarray(values, dtype=float).ravel(), np.nan)
    if array.size > MAX_POINTS:
        array = array[np.linspace(0, array.size - 1, MAX_POINTS).astype(int)]
    return tuple(float(v) for v in array)


def _label(artist: Any) -> str | None:
    label = artist.get_label()
    return None if not label or str(label).startswith("_") else str(label)


def _series(ax: Any) -> list[PlotSeries]:
    from matplotlib.collections import PathCollection
    from matplotlib.patches import Rectangle

    found: list[PlotSeries] = []
    for line in ax.get_lines():
        x, y = _floats(line.get_xdata()), _floats(line.get_ydata())
        markers_only = line.get_linestyle() in ("None", "none", "", " ") and line.get_marker() not in (None, "None", "none", "")
        found.append(PlotSeries("scatter" if markers_only else "line", x, y, _label(line)))
    for collection in ax.collections:
        if isinstance(collection, PathCollection):
            offsets = collection.get_offsets()
            if len(offsets):
                found.append(PlotSeries("scatter", _floats(offsets[:, 0]), _floats(offsets[:, 1]), _label(collection)))
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    if bars:
        x = tuple(float(p.get_x() + p.get_width() / 2) for p in bars)
        y = tuple(float(p.get_height()) for p in bars)
        label = next((_label(c) for c in ax.containers if _label(c)), None) if hasattr(ax, "containers") else None
        found.append(PlotSeries("bar", x, y, label))
    return found


def _image(ax: Any) -> tuple[tuple[float, ...], ...] | None:
    import numpy as np

    if not ax.images:
        return None
    data = np.ma.filled(np.ma.asarray(ax.images[-1].get_array(), dtype=float), np.nan)
    if data.ndim == 3:  # RGB(A): its luminance
        data = data[..., :3] @ np.array([0.299, 0.587, 0.114])
    if data.ndim != 2 or data.size == 0:
        return None
    rows, cols = data.shape
    max_rows, max_cols = IMAGE_SIZE
    r_idx = np.linspace(0, rows - 1, min(rows, max_rows)).astype(int)
    c_idx = np.linspace(0, cols - 1, min(cols, max_cols)).astype(int)
    small = data[np.ix_(r_idx, c_idx)]
    return tuple(tuple(float(v) for v in row) for row in small)


def read_figure(figure: Any, number: int) -> FigureView:
    """The figure's artists as data (never raises: a problem is kept as a note)."""
    try:
        axes = []
        rows = cols = 1
        for ax in figure.axes:
            spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
            row = col = 0
            if spec is not None:
                rows, cols = spec.get_geometry()[:2]
                row, col = spec.rowspan.start, spec.colspan.start
            axes.append(PlotAxes(
                series=tuple(_series(ax)),
                image=_image(ax),
                title=ax.get_title(),
                xlabel=ax.get_xlabel(),
                ylabel=ax.get_ylabel(),
                legend=ax.get_legend() is not None,
                row=row, col=col,
                xlog=ax.get_xscale() == "log",
                ylog=ax.get_yscale() == "log",
            ))
        suptitle = getattr(figure, "_suptitle", None)
        title = suptitle.get_text() if suptitle is not None else ""
        return FigureView(number=number, axes=tuple(axes), rows=rows, cols=cols, title=title)
    except Exception as exc:  # noqa: BLE001 - a figure must never break the lesson
        return FigureView(number=number, problem=f"{type(exc).__name__}: {exc}")


def _image_text(image: tuple[tuple[float, ...], ...], title: str) -> str:
    values = [v for row in image for v in row if math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = (high - low) or 1.0
    lines = [title] if title else []
    for row in image:
        chars = []
        for v in row:
            level = 0 if not math.isfinite(v) else int((v - low) / span * (len(RAMP) - 1) + 0.5)
            chars.append(RAMP[level] * 2)  # two characters per pixel: terminal cells are tall
        lines.append("".join(chars).rstrip())
    return "\n".join(lines)


def _draw(plot: Any, ax: PlotAxes) -> None:
    """One axes into a plotext (sub)plot (plotext 6's object API)."""
    for series in ax.series:
        x, y = list(series.x), list(series.y)
        points = [(a, b) for a, b in zip(x, y) if math.isfinite(a) and math.isfinite(b)]
        if not points:
            continue
        x, y = [p[0] for p in points], [p[1] for p in points]
        if series.kind == "bar":
            signal = plot.bar(x, y)
        elif series.kind == "scatter":
            signal = plot.signal(x, y)
        else:
            signal = plot.signal(x, y).lines()
        if series.label:
            signal = signal.label(series.label)
        plot.draw(signal)
    if ax.title:
        plot.title(ax.title)
    if ax.xlabel:
        plot.label(ax.xlabel, axis="x")
    if ax.ylabel:
        plot.label(ax.ylabel, axis="y")
    if ax.xlog:
        plot.ruler("x").scale("log")
    if ax.ylog:
        plot.ruler("y").scale("log")


def _plots(view: FigureView, axes: list[PlotAxes], width: int, height: int) -> str:
    import plotext

    plotext.terminal.limit(False, False)
    fig = plotext.figure
    fig.clear()
    try:
        if view.rows * view.cols > 1 and len(axes) > 1:
            fig.plot_size(width, height * min(view.rows, 2))
            fig.subplots(view.rows, view.cols)
            for ax in axes:
                _draw(fig.subplot(ax.row + 1, ax.col + 1), ax)
        else:
            fig.plot_size(width, height)
            _draw(fig, axes[0])
        text = plotext.uncolorize(fig.build().string())
    finally:
        fig.clear()
    return "\n".join(line.rstrip() for line in text.splitlines())


def render(view: FigureView, width: int = 72, height: int = 18) -> str:
    """The figure as plain text (no colours), `width` x about `height` characters.
    Never raises: what cannot be drawn is one line saying so."""
    name = f"[figure {view.number}]"
    if view.problem is not None:
        return f"{name} could not be read: {view.problem}"
    try:
        parts = [f"{name} {view.title}".rstrip()]
        plots = [ax for ax in view.axes if ax.image is None and ax.series]
        if plots:
            parts.append(_plots(view, plots, max(width, 20), max(height, 6)))
        for ax in view.axes:
            if ax.image is not None:
                parts.append(_image_text(ax.image, ax.title))
        if len(parts) == 1:
            parts[0] += " (empty)"
        return "\n".join(parts)
    except Exception as exc:  # noqa: BLE001
        return f"{name} could not be drawn: {type(exc).__name__}: {exc}"
