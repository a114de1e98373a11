"""Engine fixtures: small lessons written by the test itself.

`write_lesson` writes a real lesson file (front matter, one section, fenced cells)
and builds the matching `Lesson` directly, so engine tests do not depend on the
loader and every cell's `line` is its true line in the file (tracebacks and pause
points can be checked against the file).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tutor.engine.lesson import Cell, Lesson, OutputBlock, Section, Text


def build_lesson(
    path: Path,
    cells: list[str | tuple[str, str]],
    *,
    lesson_id: str = "fixture",
    cost: str | None = None,
    lr: str | None = None,
    seed: int | None = None,
) -> Lesson:
    """Write `cells` as ```python fences (a tuple is (source, expected output))."""
    lines = ["---", f"id: {lesson_id}", "title:", "  en: Fixture", "  ko: 픽스처"]
    if cost:
        lines.append(f"cost: {cost}")
    if lr:
        lines.append(f"lr: {lr}")
    if seed is not None:
        lines.append(f"seed: {seed}")
    lines += ["---", "", "## Only | 유일", ""]
    built = []
    for i, item in enumerate(cells):
        source, expected = (item, None) if isinstance(item, str) else item
        source = source.strip("\n") + "\n"
        lines.append("```python")
        first = len(lines) + 1
        lines += source.rstrip("\n").split("\n")
        lines.append("```")
        block = None
        if expected is not None:
            block = OutputBlock(text=expected.strip("\n") + "\n", line=len(lines) + 2)
            lines += ["", "```output", *expected.strip("\n").split("\n"), "```"]
        lines.append("")
        built.append(Cell(index=i, source=source, line=first, section=0, expected=block))
    path.write_text("\n".join(lines), encoding="utf-8")
    return Lesson(
        id=lesson_id,
        title=Text(en="Fixture", ko="픽스처"),
        path=path,
        cost_name=cost,
        lr_name=lr or "lr",
        seed=seed or 0,
        sections=(Section(index=0, title=Text(en="Only", ko="유일"), prose=Text(), line=8,
                          cells=tuple(range(len(built)))),),
        cells=tuple(built),
    )


@pytest.fixture
def make_lesson(tmp_path):
    counter = iter(range(1000))

    def make(cells, **kwargs) -> Lesson:
        return build_lesson(tmp_path / f"lesson{next(counter)}.md", cells, **kwargs)

    return make


SETUP = """
import torch
import torch.optim as optim
x_train = torch.FloatTensor([[1.0, 2.0], [2.0, 1.0], [3.0, 4.0]])
y_train = torch.FloatTensor([[3.0], [3.0], [7.5]])
W = torch.zeros((2, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.1
"""

# Gradient descent by hand with the `lr` variable.
LOOP_LR = """
for epoch in range(EPOCHS):
    hypothesis = x_train.matmul(W) + b
    cost = torch.mean((hypothesis - y_train) ** 2)
    if W.grad is not None:
        W.grad.zero_()
        b.grad.zero_()
    cost.backward()
    with torch.no_grad():
        W -= lr * W.grad
        b -= lr * b.grad
"""

# The same with optim.SGD (constructed with lr=0.1, before any override).
LOOP_SGD = """
optimizer = optim.SGD([W, b], lr=0.1)
for epoch in range(EPOCHS):
    hypothesis = x_train.matmul(W) + b
    cost = torch.mean((hypothesis - y_train) ** 2)
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
"""


def plain_fit(epochs: int, schedule: dict[int, float] | float = 0.1, manual: bool = True) -> SimpleNamespace:
    """The fixtures' loop in plain torch (SETUP with LOOP_LR, or with LOOP_SGD when not
    `manual`), epoch e using the lr of the latest key <= e of `schedule` (a number: that
    lr throughout). Returns W, b (after the last epoch), costs and lrs (one per epoch)
    and params ((W, b) as lists at the start of each epoch, and at the end)."""
    import torch

    if not isinstance(schedule, dict):
        schedule = {0: schedule}
    x = torch.FloatTensor([[1.0, 2.0], [2.0, 1.0], [3.0, 4.0]])
    y = torch.FloatTensor([[3.0], [3.0], [7.5]])
    W = torch.zeros((2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([W, b], lr=schedule[0])
    costs, lrs, params = [], [], []
    for epoch in range(epochs):
        lr = schedule[max(k for k in schedule if k <= epoch)]
        params.append((W.tolist(), b.tolist()))
        cost = torch.mean((x.matmul(W) + b - y) ** 2)
        costs.append(cost.item())
        lrs.append(lr)
        if manual:
            if W.grad is not None:
                W.grad.zero_()
                b.grad.zero_()
            cost.backward()
            with torch.no_grad():
                W -= lr * W.grad
                b -= lr * b.grad
        else:
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            cost.backward()
            optimizer.step()
    params.append((W.tolist(), b.tolist()))
    return SimpleNamespace(W=W, b=b, costs=costs, lrs=lrs, params=params)


@pytest.fixture
def sources():
    """The gradient-descent fixture sources (EPOCHS is replaced by each test)."""
    return SimpleNamespace(SETUP=SETUP, LOOP_LR=LOOP_LR, LOOP_SGD=LOOP_SGD)


@pytest.fixture
def client(kernel_host):
    """`client(lesson, **kwargs)`: a KernelClient on the session's zygote, closed after
    the test (the kernel and checkpoint tests)."""
    from tutor.engine.kernel.client import KernelClient

    made = []

    def make(lesson, **kwargs):
        c = KernelClient(kernel_host, lesson, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
