"""matplotlib in lessons: our backend reads the figures' artists; plotext draws them.

Headless (`Runner`, `tutor run`): every figure shown (plt.show() or left open at the
end of its cell) becomes a FigureView whose numbers are what the lesson plotted, and
is printed as text; check --run compares only printed text; matplotlib is imported
only by lessons that import it; a figure that cannot be drawn is a one-line note.
"""

from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch

from tutor import cli
from tutor.engine import events as ev
from tutor.engine.figures import render
from tutor.engine.runner import Runner
from tutor.engine.state import FigureView, PlotAxes, PlotSeries

REPO = Path(__file__).resolve().parents[2]

PLOT = """
import matplotlib.pyplot as plt
import numpy as np
import torch
x = torch.linspace(0, 2, 5)
plt.plot(x.numpy(), (x ** 2).numpy(), label="cost")
plt.scatter([0.5, 1.5], [1.0, 2.0], label="points")
plt.title("Training")
plt.xlabel("epoch")
plt.ylabel("cost")
plt.legend()
plt.show()
print("shown")
"""

SUBPLOTS = """
fig, axes = plt.subplots(1, 3)
axes[0].hist([1.0, 1.5, 2.0, 2.2, 3.0], bins=2)
axes[1].bar([0, 1], [3.0, 5.0])
axes[2].imshow(np.arange(6).reshape(2, 3))
fig.suptitle("three")
"""


def test_figures_are_read_from_their_artists(make_lesson):
    lesson = make_lesson([(PLOT, "shown"), SUBPLOTS, "print('no figure here')\n"])
    events: list = []
    state = Runner(lesson, on_event=events.append).run_to_end()
    assert state.error is None, state.error
    shown = [e for e in events if isinstance(e, ev.FigureShown)]
    assert [(e.cell, e.figure.number) for e in shown] == [(0, 1), (1, 2)]  # plt.show(), then the cell's end
    first = shown[0].figure
    (ax,) = first.axes
    line, points = ax.series
    x = torch.linspace(0, 2, 5)
    assert line.kind == "line" and line.label == "cost"
    assert np.allclose(line.x, x.numpy()) and np.allclose(line.y, (x ** 2).numpy())
    assert (points.kind, points.x, points.y, points.label) == ("scatter", (0.5, 1.5), (1.0, 2.0), "points")
    assert (ax.title, ax.xlabel, ax.ylabel, ax.legend) == ("Training", "epoch", "cost", True)
    second = shown[1].figure
    assert (second.rows, second.cols, second.title) == (1, 3, "three")
    hist, bar, image = second.axes
    counts, edges = np.histogram([1.0, 1.5, 2.0, 2.2, 3.0], bins=2)
    assert hist.series[0].kind == "bar" and hist.series[0].y == tuple(float(c) for c in counts)
    assert np.allclose(hist.series[0].x, (edges[:-1] + edges[1:]) / 2)
    assert bar.series[0].x == (0.0, 1.0) and bar.series[0].y == (3.0, 5.0)
    assert image.image == ((0.0, 1.0, 2.0), (3.0, 4.0, 5.0)) and image.col == 2
    assert state.figures == {0: (first,), 1: (second,)}
    assert state.outputs[0] == "shown\n"  # figures are not printed text


def test_tutor_run_prints_the_figures_as_text_and_check_run_ignores_them(make_lesson, capsys):
    lesson = make_lesson([(PLOT, "shown"), SUBPLOTS])
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert cli.main(["run", str(lesson.path)]) == 0
    out = buffer.getvalue()
    assert out.startswith("[figure 1]\n")
    before, after = out.split("shown\n")
    assert "Training" in before and "epoch" in before and "▚ cost" in before  # title, label, legend
    assert "[figure 2] three" in after and "@@" in after  # the image's brightest pixels
    assert cli.main(["check", "--run", str(lesson.path)]) == 0
    assert capsys.readouterr().out.startswith("ok: 1 lesson, 2 cells run, 1 output blocks matched")


def test_a_figure_that_cannot_be_drawn_is_one_line():
    assert render(FigureView(number=3, problem="ValueError: odd")) == "[figure 3] could not be read: ValueError: odd"
    broken = FigureView(number=1, axes=(PlotAxes(series=(PlotSeries("line", (1.0,), ("x",)),)),))  # type: ignore[arg-type]
    text = render(broken)
    assert text.startswith("[figure 1] could not be drawn:") and "\n" not in text


def test_a_lesson_whose_figure_fails_goes_on(make_lesson, monkeypatch):
    from tutor.engine import figures

    def fail(figure, number):
        raise RuntimeError("no")

    monkeypatch.setattr(figures, "_series", lambda ax: fail(ax, 0))
    lesson = make_lesson([(PLOT, "shown")])
    state = Runner(lesson).run_to_end()
    assert state.error is None and state.outputs[0] == "shown\n"
    (view,) = state.figures[0]
    assert render(view) == "[figure 1] could not be read: RuntimeError: no"


def test_matplotlib_is_imported_only_by_lessons_that_import_it(tmp_path):
    from tests.engine.conftest import build_lesson

    lesson = build_lesson(tmp_path / "01-plain.md", ["import torch\nprint(torch.ones(1).sum().item())\n"])
    code = (
        "import sys\nfrom tutor.engine.loader import load_lesson\nfrom tutor.engine.runner import Runner\n"
        f"state = Runner(load_lesson({str(lesson.path)!r})).run_to_end()\n"
        "print(state.outputs[0].strip(), 'matplotlib' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "1.0 False", done.stdout + done.stderr


def test_jsonl_figure_event():
    import json

    from tutor.engine.jsonl import dumps

    view = FigureView(number=2, axes=(PlotAxes(series=(PlotSeries("line", (0.0, 1.0), (1.0, 3.0), "cost"),),
                                               title="Cost"),))
    event = json.loads(dumps(ev.FigureShown(cell=4, figure=view)))
    assert (event["event"], event["cell"], event["number"]) == ("figure", 4, 2)
    assert event["text"] == render(view) and event["text"].startswith("[figure 2]\n") and "Cost" in event["text"]
