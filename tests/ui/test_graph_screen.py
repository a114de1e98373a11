"""The graph view in the lesson screen: `v` cycles the chart pane, `B` at a
backward() call runs it and steps its pass node by node (torch's numbers, captured
in the real backward); snapshots at 80x24 in ko and en."""

from __future__ import annotations

import pytest

from .conftest import open_lesson, press_and_settle, wait_for

SEED = """\
---
id: seed-graph
title:
  en: Seed graph
  ko: 씨앗 그래프
---

## Backward | 역전파

::: en
Predict w.grad, then press B.
:::
::: ko
w.grad를 예측한 다음 B를 누르세요.
:::

```python
import torch
w = torch.tensor(2.0, requires_grad=True)
y = w ** 2
z = 2 * y + 5
z.backward()
print(w.grad)
```
"""


@pytest.fixture
def seed_app(make_app, lessons_dir):
    (lessons_dir / "04-seed.md").write_text(SEED, encoding="utf-8")
    return lambda lang="en": make_app(lesson="seed-graph", lang=lang)


async def _at_backward_call(pilot):
    screen = await open_lesson(pilot)
    line = screen.lesson.cells[0].line + 4  # z.backward()
    for _ in range(6):
        await press_and_settle(pilot, screen, "s")
        if screen.runner.state.line == line:
            break
    assert screen.runner.state.line == line
    return screen


def _graph_text(screen) -> str:
    from textual.widgets import Static

    view = screen.query_one("#graph")
    return "\n".join(str(s.render()) for s in view.query(Static))


async def test_v_shows_the_graph_and_B_runs_the_call_then_steps_node_by_node(seed_app):
    app = seed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _at_backward_call(pilot)
        assert screen.runner.state.backward is None  # not run yet
        chart = screen.query_one("#chart")
        assert chart.current == "plot"
        await pilot.press("v", "v")  # cost → landscape → graph
        await pilot.pause(0.1)
        assert chart.current == "graph" and chart.border_title == "autograd graph"
        preview = _graph_text(screen)  # the graph of z before its backward() runs
        assert "graph of z, before backward()" in preview and "∇" not in preview
        await pilot.press("B")
        await wait_for(pilot, lambda: screen.stepper.step == 0, what="the pass captured")
        assert screen.query_one("#chart").current == "graph"
        assert screen.runner.state.line == screen.lesson.cells[0].line + 5  # ran one statement
        assert "B 1/4" in _graph_text(screen)
        await pilot.press("B")
        await pilot.pause(0.1)
        assert "∂#1/∂y = 2 × upstream 1 → 2" in _graph_text(screen)
        await pilot.press("B", "B")
        await pilot.pause(0.1)
        assert "w.grad: None + 8 → 8" in _graph_text(screen)
        await pilot.press("B")
        await pilot.pause(0.1)
        assert "w.grad = 8" in _graph_text(screen)
        assert screen.runner.state.line == screen.lesson.cells[0].line + 5  # no second backward


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_lesson_screen_stepping_backward_snapshot(snap_compare, seed_app, lang):
    async def run_before(pilot) -> None:
        screen = await _at_backward_call(pilot)
        await pilot.press("B")
        await wait_for(pilot, lambda: screen.stepper.step == 0, what="the pass captured")
        await pilot.press("B", "B")
        await pilot.pause(0.3)

    assert snap_compare(seed_app(lang), terminal_size=(80, 24), run_before=run_before)
