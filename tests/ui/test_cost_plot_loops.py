"""The cost plot draws one series per training loop: split where the cell changes or
the loop starts again, labelled with its section, the current loop prominent, a red ✕
where a loop left the finite range; and in the app, on a lesson with two loops."""

from __future__ import annotations

import torch

from tutor.engine.state import CostPoint
from tutor.ui.widgets.cost_plot import (
    CURRENT_COLOR,
    EARLIER_LOOP_COLOR,
    NON_FINITE_COLOR,
    NON_FINITE_MARK,
    CostPlot,
    Loop,
    build_plot,
    loop_label,
    loop_legend,
    split_loops,
)
from tutor.ui.widgets.status_line import fmt_cost

from .conftest import open_lesson, settled, wait_for

NAN, INF = float("nan"), float("inf")


def _loop(costs, cell, start, lr=0.1):
    return tuple(CostPoint(step=start + i, cell=cell, iteration=i, cost=c, lr=lr) for i, c in enumerate(costs))


def test_a_new_cell_or_a_restarted_counter_starts_a_new_loop():
    costs = _loop([4.0, 3.0, 2.0], cell=2, start=0) + _loop([5.0, 1.0], cell=5, start=3) \
        + _loop([6.0, 2.0], cell=5, start=5)  # the same cell run again: its counter restarts
    assert split_loops(costs) == (Loop(2, 0, 3), Loop(5, 3, 5), Loop(5, 5, 7))
    assert split_loops(()) == ()


def test_the_exit_is_the_last_finite_point_before_nan_or_inf():
    costs = _loop([4.0, 2.0, INF, NAN, 1.0], cell=1, start=0) + _loop([NAN, 3.0], cell=3, start=5) \
        + _loop([1.0, 0.5], cell=4, start=7)
    loops = split_loops(costs)
    assert [loop.exit for loop in loops] == [1, None, None]  # a loop that began non-finite has no exit


def test_splitting_a_growing_run_resumes_and_agrees_with_a_fresh_scan():
    full = _loop([4.0, 2.0, 1.0], cell=1, start=0) + _loop([3.0, NAN, 2.0], cell=2, start=3)
    for n in range(1, len(full) + 1):  # the same first point object: the scan resumes
        grown = split_loops(full[:n])
    fresh = split_loops(tuple(CostPoint(**vars(p)) for p in full))  # new objects: a fresh scan
    assert grown == fresh == (Loop(1, 0, 3), Loop(2, 3, 6, exit=3))
    assert split_loops(full[:2]) == (Loop(1, 0, 2),)  # shorter again (a step back): rescanned


def test_labels_name_the_loops_section_and_its_own_lr():
    sections = (0, 1, 1, 2, 3)
    costs = _loop([1.0], cell=1, start=0, lr=0.1) + _loop([1.0], cell=3, start=1, lr=0.01)
    first, second = split_loops(costs)
    assert loop_label(3, sections) == "§2" and loop_label(9, sections) == "" and loop_label(1, ()) == ""
    assert loop_legend(costs, first, sections) == "lr=0.1 §1"
    assert loop_legend(costs, second, sections) == "lr=0.01 §2"
    assert loop_legend(costs, second, sections, "lr 0.1 → 0.5 at iter 3") == "lr 0.1 → 0.5 at iter 3 §2"
    no_lr = _loop([1.0], cell=1, start=0, lr=None)
    assert loop_legend(no_lr, split_loops(no_lr)[0], sections) == "§1"


def _columns_with_dots(text, lo: int, hi: int) -> set[int]:
    rows = text.plain.split("└")[0].splitlines()
    return {c for row in rows for c in range(lo, min(hi, len(row))) if 0x2800 < ord(row[c]) <= 0x28FF}


def test_loops_are_not_joined_and_the_current_one_stands_out():
    # a gap of steps between the loops: a joined line would cross it
    costs = _loop([4.0, 3.0, 2.0, 1.0], cell=1, start=0) + _loop([5.0, 4.0, 3.0, 2.0], cell=2, start=36)
    text, hidden = build_plot(costs, (), (), log=False, width=50, height=12)
    assert hidden == 0
    axis = text.plain.splitlines()[1].index("┤")  # the plot area starts right of it
    assert not _columns_with_dots(text, axis + 12, axis + 30)
    colours = {span.style.color.number for span in text.spans}
    assert {CURRENT_COLOR, EARLIER_LOOP_COLOR} <= colours and NON_FINITE_COLOR not in colours
    joined = _loop([4.0, 3.0, 2.0, 1.0], cell=1, start=0) + _loop([5.0, 4.0, 3.0, 2.0], cell=1, start=36)
    joined = tuple(CostPoint(p.step, 1, i, p.cost, p.lr) for i, p in enumerate(joined))  # one loop
    text, _ = build_plot(joined, (), (), log=False, width=50, height=12)
    assert _columns_with_dots(text, axis + 12, axis + 30)  # the check can fail


def test_a_red_cross_marks_where_a_loop_left_the_finite_range():
    costs = _loop([1.0, 4.0, 30.0, INF, NAN], cell=1, start=0)
    text, hidden = build_plot(costs, (), (), log=False, width=40, height=10)
    assert hidden == 2 and text.plain.count(NON_FINITE_MARK) == 1
    red = [s for s in text.spans if s.style.color.number == NON_FINITE_COLOR]
    assert [text.plain[s.start:s.end] for s in red] == [NON_FINITE_MARK]
    top = text.plain.splitlines()[1]  # the exit is the highest finite point: the top row
    assert NON_FINITE_MARK in top


TWO_LOOPS = """\
---
id: two-loops
title:
  en: Two loops
  ko: 두 반복문
---

## Setup | 준비

::: en
A weight.
:::
::: ko
가중치 하나.
:::

```python
import torch
w = torch.tensor([1.0], requires_grad=True)
```

## Slow | 느리게

::: en
A small lr.
:::
::: ko
작은 학습률.
:::

```python
lr = 0.05
for epoch in range(4):
    cost = ((w * 2 - 4) ** 2).mean()
    cost.backward()
    with torch.no_grad():
        w -= lr * w.grad
        w.grad.zero_()
```

## Fast | 빠르게

::: en
A larger one, from where the first loop stopped.
:::
::: ko
더 큰 학습률로, 첫 반복문이 멈춘 곳부터.
:::

```python
lr = 0.2
for epoch in range(3):
    cost = ((w * 2 - 4) ** 2).mean()
    cost.backward()
    with torch.no_grad():
        w -= lr * w.grad
        w.grad.zero_()
```
"""


def _plain_torch_costs() -> list[float]:
    w = torch.tensor([1.0], requires_grad=True)
    costs = []
    for lr, epochs in ((0.05, 4), (0.2, 3)):
        for _ in range(epochs):
            cost = ((w * 2 - 4) ** 2).mean()
            cost.backward()
            with torch.no_grad():
                w -= lr * w.grad
                w.grad.zero_()
            costs.append(cost.item())
    return costs


async def test_a_lesson_with_two_loops_plots_and_labels_each(make_app, tmp_path):
    lessons = tmp_path / "two"
    lessons.mkdir()
    (lessons / "01-two.md").write_text(TWO_LOOPS, encoding="utf-8")
    app = make_app(lesson="two-loops", lessons=lessons)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.runner.state.status == "done" and settled(screen), what="done")
        plot = screen.query_one(CostPlot)
        costs = screen.runner.state.costs
        assert [(loop.start, loop.end) for loop in split_loops(costs)] == [(0, 4), (4, 7)]
        expected = _plain_torch_costs()
        assert all(abs(p.cost - c) < 1e-6 for p, c in zip(costs, expected, strict=True))
        legend = " ".join(plot.render().plain.split("┌")[0].split())
        assert legend.startswith("━ now lr=0.2 §3 ━ lr=0.05 §2"), legend
        await pilot.press("r")  # the run becomes an earlier run, drawn per loop
        await wait_for(pilot, lambda: plot._previous != (), what="the earlier run")
        legend = " ".join(plot.render().plain.split("┌")[0].split())
        assert f"━ lr=0.05 §2 · lr=0.2 §3 → {fmt_cost(expected[-1])}" in legend, legend
