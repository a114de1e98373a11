"""The landscape view: its drawing as pure functions over plain data, the chart
pane's `v` cycle and the critical-lr warning in the lesson screen, and snapshots of
the 1-D and 2-D views at 80x24 in both languages."""

from __future__ import annotations

import pytest

from tutor.engine.state import Landscape, LandscapeAxis
from tutor.ui.i18n import t
from tutor.ui.widgets.landscape import (
    LEVELS, EarlierPath, build_heatmap, critical_line, earlier_paths, levels,
)

from .conftest import open_lesson, press_and_settle, screen_text, settled, wait_for

SIZE = (80, 24)

BOWL = """\
---
id: bowl
title:
  en: A bowl
  ko: 그릇
---

## Fit W and b | W와 b 맞추기

::: en
Both at once.
:::
::: ko
둘을 한꺼번에.
:::

```python
import torch
x_train = torch.FloatTensor([[1], [2], [3]])
y_train = torch.FloatTensor([[2], [4], [6]])
W = torch.zeros(1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
optimizer = torch.optim.SGD([W, b], lr=0.05)
for epoch in range(30):
    hypothesis = x_train * W + b
    cost = torch.mean((hypothesis - y_train) ** 2)
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
```
"""


def quadratic(path, point, gradient=(1.0, 0.0), critical=0.18):
    """A plain-Python bowl (W − 1)² + (b − 1)² over [0, 2] x [0, 2]."""
    ws = tuple(i / 19 * 2 for i in range(20))
    bs = tuple(j / 9 * 2 for j in range(10))
    cost = tuple(tuple((w - 1) ** 2 + (b - 1) ** 2 for b in bs) for w in ws)
    return Landscape(
        cell=0, loop=0, axes=(LandscapeAxis("W", ws), LandscapeAxis("b", bs)), cost=cost,
        path=path, point=point, point_cost=0.0, gradient=gradient, critical_lr=critical,
    )


def test_levels_grow_with_the_cost():
    bands = levels(((0.0, 1.0), (10.0, float("nan"))))
    assert bands[0][0] == 0 and bands[1][0] == LEVELS - 1 and bands[1][1] is None
    assert 0 < bands[0][1] < bands[1][0]


def test_heatmap_marks_path_point_and_minus_gradient():
    land = quadratic(path=((0.0, 0.0), (1.0, 1.0)), point=(1.0, 1.0), gradient=(1.0, 0.0))
    text = build_heatmap(land, (), width=26, height=11).plain
    rows = text.split("\n")
    assert len(rows) == 11 and "●" in text and "•" in text
    here = next(r for r in rows if "●" in r)
    assert "←●" in here  # −gradient of (1, 0) points to smaller W
    assert rows[0].lstrip().startswith("2") and rows[-1].split()[-1] == "2"  # b top, W right


def test_earlier_paths_only_over_the_same_axes():
    now = quadratic(path=((0.0, 0.0),), point=(0.0, 0.0))
    same = quadratic(path=((2.0, 2.0),), point=(2.0, 2.0))
    other = Landscape(cell=0, loop=1, axes=now.axes, cost=now.cost, path=(), point=(), point_cost=None,
                      gradient=None)
    assert earlier_paths(now, [same, other, None]) == (EarlierPath(("W", "b"), ((2.0, 2.0),)),)
    text = build_heatmap(now, earlier_paths(now, [same]), 26, 11).plain
    assert "∙" in text


def test_critical_line_says_stable_or_diverging():
    land = quadratic(path=((0.0, 0.0),), point=(0.0, 0.0), critical=0.1803)
    assert critical_line(land, 0.1, "en").plain == "lr 0.1 < 2/λmax = 0.18"
    warn = critical_line(land, 0.3, "ko").plain
    assert "0.3 > 2/λmax = 0.18" in warn and "발산" in warn
    assert critical_line(quadratic(((0.0, 0.0),), (0.0, 0.0), critical=None), 0.3, "en").plain == ""


async def test_v_cycles_the_chart_pane_and_an_lr_above_critical_is_said_at_once(make_app):
    from tutor.ui.widgets.chart_pane import ChartPane
    from tutor.ui.widgets.landscape import LandscapeView

    app = make_app(lesson="tiny-fit", lang="en")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n", "n", "n")
        chart = screen.query_one(ChartPane)
        assert chart.current == "plot" and chart.border_title == "cost"
        await pilot.press("v")
        await wait_for(pilot, lambda: chart.current == "landscape")
        assert chart.border_title == "landscape"
        # the kernel is told, and every kernel after it (a reset forks a new one)
        assert screen.runner.options["view"] == "landscape"
        view = screen.query_one(LandscapeView).render().plain
        assert "lr 0.1 < 2/λmax = 0.25" in view and "x w" in view  # d²/dw² of (2w − 4)² is 8
        assert not any("2/λmax" in str(n.message) for n in app._notifications)
        for key in ("e", "0", ".", "3", "enter"):
            await pilot.press(key)
        await wait_for(pilot, lambda: any("2/λmax = 0.25" in str(n.message) for n in app._notifications),
                       what="the critical-lr warning")
        note = next(str(n.message) for n in app._notifications if "2/λmax" in str(n.message))
        assert note.startswith("lr 0.3 > 2/λmax = 0.25: this run will diverge")
        await wait_for(pilot, lambda: "lr 0.3 > 2/λmax = 0.25" in screen.query_one(LandscapeView).render().plain)
        await pilot.press("l")
        await wait_for(pilot, lambda: chart.border_title == t("pane.landscape", "ko"))
        views = chart.views()
        assert views[:2] == ["plot", "landscape"]  # the graph view, when there, comes third
        for _ in views[1:]:
            await pilot.press("v")
        await wait_for(pilot, lambda: chart.current == "plot")
        assert screen.runner.options["view"] == "plot"


def _snapshot_steps(keys):
    async def run_before(pilot) -> None:
        screen = await open_lesson(pilot)
        for key in keys:
            await pilot.press(key)
            await wait_for(pilot, lambda: settled(screen), what=key)
        await pilot.press("v")
        await wait_for(pilot, lambda: "landscape" in screen_text(pilot.app) or "비용 지형" in screen_text(pilot.app))
        await pilot.pause(0.3)
    return run_before


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_landscape_1d_snapshot(snap_compare, make_app, lang):
    steps = _snapshot_steps(["n", "n", "n", "n", "n"])
    assert snap_compare(make_app(lesson="tiny-fit", lang=lang), terminal_size=SIZE, run_before=steps)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_landscape_2d_snapshot(snap_compare, make_app, lessons_dir, lang):
    (lessons_dir / "04-bowl.md").write_text(BOWL, encoding="utf-8")
    steps = _snapshot_steps(["n"] * 7)
    assert snap_compare(make_app(lesson="bowl", lang=lang), terminal_size=SIZE, run_before=steps)
