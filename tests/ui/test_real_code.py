"""The app on real notebook-style code: a training loop inside `def train(...)`.

`n` steps the epochs inside the function; the status line says where
(`train() ← cell 3`), and the tensor table lists the function's locals first.
"""

from __future__ import annotations

from tests.ui.conftest import open_lesson, press_and_settle

FUNCTION_LESSON = """\
---
id: fn-train
title:
  en: Training in a function
  ko: 함수 안의 학습
---

## Train | 학습

::: en
A training loop inside a function.
:::
::: ko
함수 안의 학습 루프입니다.
:::

```python
import torch
x_train = torch.FloatTensor([[1.0], [2.0], [3.0]])
y_train = torch.FloatTensor([[2.0], [4.0], [6.0]])
```

```python
def train(x, y, epochs, lr=0.05):
    W = torch.zeros(1, requires_grad=True)
    for epoch in range(epochs):
        cost = torch.mean((x * W - y) ** 2)
        cost.backward()
        with torch.no_grad():
            W -= lr * W.grad
            W.grad.zero_()
    return W
```

```python
W_final = train(x_train, y_train, 4)
print(W_final)
```
"""


async def test_status_line_says_which_function_and_cell(make_app, tmp_path):
    lessons = tmp_path / "real"
    lessons.mkdir()
    (lessons / "01-fn.md").write_text(FUNCTION_LESSON, encoding="utf-8")
    app = make_app(lesson="fn-train", lessons=lessons)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n", "n", "n")
        state = screen.runner.state
        assert (state.cell, state.iteration, state.frame.function) == (2, 1, "train")
        status = screen.query_one("#status").render().plain
        assert "train() ← cell 3" in status and "iter 1" in status
        table = screen.query_one("TensorTable")
        assert [v.name for v in state.tensors][:2] == ["W", "x"]  # the function's locals first
        assert table is not None
        await press_and_settle(pilot, screen, "b")
        assert screen.runner.state.iteration == 0
        await press_and_settle(pilot, screen, "space")
        state = screen.runner.state
        assert state.status == "done" and state.frame is None
        assert "train()" not in screen.query_one("#status").render().plain


PLOT_LESSON = """\
---
id: plots
title:
  en: Plots
  ko: 그래프
---

## Plot | 그래프

::: en
A plot.
:::
::: ko
그래프 하나.
:::

```python
import matplotlib.pyplot as plt
plt.plot([0, 1, 2, 3], [0, 1, 4, 9], label="cost")
plt.title("Cost curve")
plt.legend()
plt.show()
print("plotted")
```
"""


async def test_a_figure_appears_in_the_output_pane(make_app, tmp_path):
    lessons = tmp_path / "plots"
    lessons.mkdir()
    (lessons / "01-plots.md").write_text(PLOT_LESSON, encoding="utf-8")
    app = make_app(lesson="plots", lessons=lessons)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n")
        state = screen.runner.state
        assert state.error is None and [f.number for f in state.figures[0]] == [1]
        await pilot.pause()
        group = screen.query_one("#output-text").content  # the pane's rich Group
        text = "\n".join(part.plain for part in group.renderables if hasattr(part, "plain"))
        assert "plotted" in text and "[figure 1]" in text and "Cost curve" in text and "▚ cost" in text


STREAMS_LESSON = """\
---
id: streams
title:
  en: Streams
  ko: 스트림
---

## Write | 쓰기

::: en
Writes past print().
:::
::: ko
print() 말고 다른 출력.
:::

```python
import sys, warnings
_ = sys.stdout.write("written\\n")
for step in range(3):  # a progress bar redrawn in place, as tqdm draws it
    _ = sys.stderr.write(f"\\rtraining {step + 1}/3")
_ = sys.stderr.write("\\n")
warnings.warn("this API is old")
print("printed")
```
"""


async def test_what_a_cell_writes_to_the_streams_shows_in_the_output_pane(make_app, tmp_path):
    """sys.stdout.write with the printed text; stderr (a redrawn progress bar, a
    warning) under it, in its own style, the bar as a terminal shows it (its last
    state). Before, in the kernel, both went to /dev/null and the fault log."""
    lessons = tmp_path / "streams"
    lessons.mkdir()
    (lessons / "01-streams.md").write_text(STREAMS_LESSON, encoding="utf-8")
    app = make_app(lesson="streams", lessons=lessons)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "space")
        state = screen.runner.state
        assert state.error is None and state.outputs[0] == "written\nprinted\n"
        assert "UserWarning: this API is old" in state.stderr[0]
        await pilot.pause()
        group = screen.query_one("#output-text").content
        parts = [part for part in group.renderables if hasattr(part, "plain")]
        assert parts[0].plain == "written\nprinted"
        lines = parts[1].plain.split("\n")
        assert lines[0] == "training 3/3" and "UserWarning: this API is old" in lines[1]
        pane = screen.query_one("OutputPane")
        assert parts[1].style == pane.get_component_rich_style("output-pane--stderr")
