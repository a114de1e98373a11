"""The tensor inspector (`i`) and the step view: keys, live update, and what they show.

The numbers on screen are checked against plain torch running the lesson's code
(the engine tests check the engine's data the same way; here the screen's text).
"""

from __future__ import annotations

import pytest
import torch

from tutor.engine.state import UpdateView
from tutor.ui.widgets.matrix_view import as_rows, level
from tutor.ui.widgets.tensor_table import fit_values, table_order
from tutor.ui.widgets.update_view import fmt, strip_line, update_lines

from .conftest import open_lesson, screen_text, settled, wait_for

SETUP = """\
import torch
torch.manual_seed(0)
W = torch.randn(3, 3, requires_grad=True)
x = torch.randn(4, 3)
y = torch.randn(4, 3)
optimizer = torch.optim.SGD([W], lr=0.05, momentum=0.9)
"""

LOOP = """\
for epoch in range(20):
    cost = ((x @ W - y) ** 2).mean()
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
"""

MOMENTUM = f"""\
---
id: momentum-3x3
title:
  en: Momentum 3x3
  ko: 모멘텀 3x3
---

## Train | 훈련

```python
{SETUP}```

```python
{LOOP}```
"""


def plain(steps: int):
    """W, its grad and the momentum buffer after `steps` steps, in plain torch."""
    ns: dict = {}
    exec(SETUP, ns)
    W, x, y, optimizer = ns["W"], ns["x"], ns["y"], ns["optimizer"]
    for _ in range(steps):
        cost = ((x @ W - y) ** 2).mean()
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
    return W.detach(), W.grad, optimizer.state[W]["momentum_buffer"]


@pytest.fixture
def momentum_lessons(lessons_dir):
    (lessons_dir / "04-momentum.md").write_text(MOMENTUM, encoding="utf-8")
    return lessons_dir


def shows_matrix(text: str, matrix: torch.Tensor) -> bool:
    """Every row of `matrix` appears on screen, its numbers as fmt() writes them
    (in order, aligned in one line)."""
    lines = text.splitlines()
    for row in matrix.tolist():
        cells = [fmt(v) for v in row]
        if not any(all(c in line for c in cells) and _in_order(line, cells) for line in lines):
            return False
    return True


def _in_order(line: str, cells: list[str]) -> bool:
    at = 0
    for c in cells:
        at = line.find(c, at)
        if at < 0:
            return False
        at += len(c)
    return True


async def test_inspector_keys_and_live_update(make_app, momentum_lessons):
    from tutor.ui.screens.inspector import InspectorScreen
    from tutor.ui.screens.lesson import LessonScreen

    app = make_app(lesson="momentum-3x3")
    async with app.run_test(size=(80, 24)) as pilot:
        lesson = await open_lesson(pilot)
        for key in ("n", "n", "n", "n"):  # cell 1, then iteration points 0, 1, 2
            await pilot.press(key)
            await wait_for(pilot, lambda: settled(lesson), what=key)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen), what="the inspector")
        inspector = app.screen
        await wait_for(pilot, lambda: "momentum_buffer" in screen_text(app), what="W whole")
        text = screen_text(app)
        W, grad, buf = plain(2)
        assert "W (1/4) · 3×3 · float32 · requires_grad=True" in text and "iter 2" in text
        assert shows_matrix(text, W) and shows_matrix(text, grad) and shows_matrix(text, buf)
        assert "update (iteration 1):" in text and "W[0,0] := " in text
        # n keeps working in the inspector, and the view follows live
        await pilot.press("n")
        await wait_for(pilot, lambda: "iter 3" in screen_text(app), what="the next iteration")
        await wait_for(pilot, lambda: shows_matrix(screen_text(app), plain(3)[2]), what="the buffer of step 3")
        text = screen_text(app)
        W3, grad3, _ = plain(3)
        assert shows_matrix(text, W3) and shows_matrix(text, grad3)
        assert "▼" in text or "▲" in text  # what changed since the last pause
        # b steps back, the view follows
        await pilot.press("b")
        await wait_for(pilot, lambda: "iter 2" in screen_text(app), what="one step back")
        await wait_for(pilot, lambda: shows_matrix(screen_text(app), buf), what="the buffer of step 2")
        # tab / shift+tab: the other tensors, in the table's order (parameters first)
        await pilot.press("tab")
        await wait_for(pilot, lambda: screen_text(app).lstrip().startswith("cost (2/4)"), what="tab to cost")
        assert "grad_fn=MeanBackward0" in screen_text(app)
        await pilot.press("shift+tab")
        await wait_for(pilot, lambda: screen_text(app).lstrip().startswith("W (1/4) ·"), what="shift+tab back")
        # colour by sign and magnitude stays readable at 256 colours, dark and light
        for theme in ("textual-dark", "textual-light"):
            app.theme = theme
            await pilot.pause(0.2)
            assert_levels_readable_at_256_colours(inspector)
        # space runs freely from the inspector; it lands at the end with W whole
        await pilot.press("space")
        await wait_for(pilot, lambda: app.screen.session.runner.state.status == "done", what="the end")
        await wait_for(pilot, lambda: "done" in screen_text(app), what="done shown")
        assert shows_matrix(screen_text(app), plain(20)[0])
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="closed")
        # states are small again: the kernel's answer to inspect(None), waited for
        await wait_for(pilot, lambda: inspector.session.runner.state.inspected is None,
                       what="states without the inspected tensor")


def assert_levels_readable_at_256_colours(inspector) -> None:
    """The 7 levels, downgraded to the 256-colour palette (SSH sends no COLORTERM):
    negative and positive differ in colour, the three strengths of one sign differ
    (background or bold), and no text colour equals its background."""
    from rich.color import ColorSystem

    from tutor.ui.widgets.matrix_view import LEVELS, MatrixView

    view = inspector.query_one(MatrixView)
    base = inspector.app.screen.styles.background.rich_color

    def look(name):
        st = view.get_component_rich_style(f"matrix--{name}")
        fg = st.color.downgrade(ColorSystem.EIGHT_BIT).number
        bg = (st.bgcolor or base).downgrade(ColorSystem.EIGHT_BIT).number
        return fg, bg, bool(st.bold)

    looks = {name: look(name) for name in LEVELS}
    assert looks["neg-1"][0] != looks["pos-1"][0] != looks["zero"][0]
    for sign in ("neg", "pos"):
        strengths = [looks[f"{sign}-{k}"] for k in (1, 2, 3)]
        assert len({(bg, bold) for _, bg, bold in strengths}) == 3, strengths
    assert all(fg != bg for fg, bg, _ in looks.values()), looks


async def test_inspect_before_anything_ran_says_so(make_app, momentum_lessons):
    from tutor.ui.screens.lesson import LessonScreen

    app = make_app(lesson="momentum-3x3")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_lesson(pilot)
        await pilot.press("i")
        await pilot.pause(0.2)
        assert isinstance(app.screen, LessonScreen)


def test_update_lines_write_the_rule_with_numbers():
    sgd = UpdateView(name="W", rule="sgd", optimizer="SGD", shape=(1,), numel=1, before=(1.68,),
                     after=(2.128,), terms=(("lr", 0.1), ("grad", (-4.48,))))
    assert update_lines(sgd)[0] == "W := 1.680 − 0.1 × (−4.480) = 2.128"
    assert strip_line(sgd, "en") == "W := 1.680 − 0.1 × (−4.480) = 2.128"
    mat = UpdateView(name="W", rule="manual", optimizer="", shape=(2, 3), numel=6,
                     before=(1.0, 2.0, 3.0, 4.0), after=(0.9, 1.8, 2.7, 3.6),
                     terms=(("lr", 0.1), ("gradient", (1.0, 2.0, 3.0, 4.0))),
                     source="W -= lr * gradient", operands=("lr", "gradient"))
    assert strip_line(mat, "en") == "W[0,0] := 1.000 − 0.1 × 1.000 = 0.9000 …"
    main, details = update_lines(mat, 4 - 1)
    assert main == "W[1,0] := 4.000 − 0.1 × 4.000 = 3.600"
    assert details == ["W -= lr * gradient   (lr = 0.1, gradient = 4.000)"]
    mom = UpdateView(name="b", rule="momentum", optimizer="SGD", shape=(1,), numel=1, before=(1.0,),
                     after=(0.5,), terms=(("lr", 0.5), ("grad", (0.25,)), ("momentum", 0.9),
                                          ("dampening", 0.0), ("buf_before", (0.5,)), ("buf", (0.7,))))
    assert update_lines(mom) == ("b := 1.000 − 0.5 × 0.7000 = 0.5000", ["buf := 0.9 × 0.5000 + 0.2500 = 0.7000"])
    adamw = UpdateView(name="W", rule="adamw", optimizer="AdamW", shape=(1,), numel=1, before=(1.0,),
                       after=(0.99,), terms=(("lr", 0.01), ("grad", (2.0,)), ("beta1", 0.9), ("beta2", 0.999),
                                             ("eps", 1e-8), ("step", 1.0), ("m_before", None), ("m", (0.2,)),
                                             ("v_before", None), ("v", (0.004,)), ("m_hat", (2.0,)),
                                             ("v_hat", (4.0,)), ("weight_decay", 0.01)))
    main, details = update_lines(adamw)
    assert main == "W := 1.000 × (1 − 0.01 × 0.01) − 0.01 × 2.000 / (√4.000 + 1e-08) = 0.9900"
    assert details[0].endswith("m̂ = m / (1 − 0.9^1) = 2.000")


def test_table_order_and_widest_values():
    from tutor.engine.state import TensorView

    data = TensorView(name="x", shape=(2,), dtype="float32", value=[1.0, 2.0])
    moved = TensorView(name="cost", shape=(), dtype="float32", value=1.0, changed=True)
    param = TensorView(name="W", shape=(2,), dtype="float32", value=[0.5, 0.5], is_parameter=True)
    assert [v.name for v in table_order((data, moved, param))] == ["W", "cost", "x"]
    values = [float(i) for i in range(10)]
    assert fit_values(values, None, 9) == "[0 1 2 …]"
    assert fit_values(values, None, 200) == "[0 1 2 3 4 5 6 7 8 9]"
    assert fit_values(values, None, 1) == "[0 …]"


def test_matrix_rows_and_colour_levels():
    assert as_rows(1.5) == [[1.5]]
    assert as_rows([1.0, 2.0]) == [[1.0, 2.0]]
    assert as_rows([float(i) for i in range(9)]) == [[float(i)] for i in range(9)]  # a long vector: a column
    assert as_rows([[[1.0, 2.0]], [[3.0, 4.0]]]) == [[1.0, 2.0], [3.0, 4.0]]
    assert [level(x, 3.0) for x in (-3.0, -1.5, -0.5, 0.0, 0.5, 1.5, 3.0)] == [
        "neg-3", "neg-2", "neg-1", "zero", "pos-1", "pos-2", "pos-3"]
