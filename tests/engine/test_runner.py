"""The runner against plain torch: trajectories, stepping, grads, lr override."""

from __future__ import annotations

import time

import pytest
import torch

from tutor.engine import events as ev
from tutor.engine.runner import Runner

EPOCHS = 6
TIMEOUT = 10


def reference(lr: float, epochs: int = EPOCHS, use_optim: bool = False):
    """Plain torch, written out independently of the engine: per epoch the values
    (W, b, W.grad, b.grad, cost) right after that epoch's update."""
    x_train = torch.FloatTensor([[1.0, 2.0], [2.0, 1.0], [3.0, 4.0]])
    y_train = torch.FloatTensor([[3.0], [3.0], [7.5]])
    W = torch.zeros((2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([W, b], lr=lr) if use_optim else None
    out = []
    for _ in range(epochs):
        cost = torch.mean((x_train.matmul(W) + b - y_train) ** 2)
        if optimizer:
            optimizer.zero_grad()
        elif W.grad is not None:
            W.grad.zero_()
            b.grad.zero_()
        cost.backward()
        if optimizer:
            optimizer.step()
        else:
            with torch.no_grad():
                W -= lr * W.grad
                b -= lr * b.grad
        out.append((W.detach().clone(), b.detach().clone(), W.grad.clone(), b.grad.clone(), cost.item()))
    return out


@pytest.fixture
def gd_lesson(make_lesson, sources):
    """gd_lesson("LOOP_SGD", epochs) -> the setup cell plus that loop."""

    def make(loop: str, epochs: int = EPOCHS):
        return make_lesson([sources.SETUP, getattr(sources, loop).replace("EPOCHS", str(epochs))])

    return make


def by_name(tensors):
    return {t.name: t for t in tensors}


@pytest.mark.parametrize("loop,use_optim", [("LOOP_LR", False), ("LOOP_SGD", True)], ids=["lr-variable", "optim.SGD"])
@pytest.mark.parametrize("override", [None, 0.05])
def test_trajectory_matches_plain_torch(gd_lesson, loop, use_optim, override):
    lesson = gd_lesson(loop)
    events: list = []
    runner = Runner(lesson, lr_override=override, on_event=events.append, record_every_iteration=True)
    state = runner.run_to_end()
    assert state.status == "done" and state.error is None
    iterations = [e for e in events if isinstance(e, ev.Iteration)]
    expected = reference(override or 0.1, use_optim=use_optim)
    assert [e.iteration for e in iterations] == list(range(EPOCHS))
    for event, (W, b, W_grad, b_grad, cost) in zip(iterations, expected):
        assert event.lr == (override or 0.1)
        assert event.cost == pytest.approx(cost, rel=1e-6, abs=1e-9)
        tensors = by_name(event.tensors)
        assert torch.allclose(torch.tensor(tensors["W"].value), W)
        assert torch.allclose(torch.tensor(tensors["b"].value), b)
        assert torch.allclose(torch.tensor(tensors["W"].grad), W_grad)
        assert torch.allclose(torch.tensor(tensors["b"].grad), b_grad)
    assert [p.cost for p in state.costs] == pytest.approx([e[4] for e in expected], rel=1e-6)
    final = by_name(state.tensors)
    assert torch.allclose(torch.tensor(final["W"].value), expected[-1][0])


def test_override_set_while_paused_reaches_an_optimizer_built_before(gd_lesson):
    lesson = gd_lesson("LOOP_SGD", epochs=4)
    runner = Runner(lesson)
    try:
        runner.next()  # setup cell
        runner.wait(TIMEOUT)
        runner.next()  # iteration 0 point
        state = runner.wait(TIMEOUT)
        assert state.iteration == 0 and state.lr == 0.1
        runner.next()  # runs iteration 0 at 0.1, stops at iteration 1
        runner.wait(TIMEOUT)
        runner.set_lr(0.05)
        assert runner.state.lr_override == 0.05
        runner.run()
        state = runner.wait(TIMEOUT)
        assert state.status == "done"
        assert [p.lr for p in state.costs] == [0.1, 0.05, 0.05, 0.05]
        assert state.lr_changes == (1,)
    finally:
        runner.close()
    # Plain torch: one step at 0.1, then three at 0.05.
    x_train = torch.FloatTensor([[1.0, 2.0], [2.0, 1.0], [3.0, 4.0]])
    y_train = torch.FloatTensor([[3.0], [3.0], [7.5]])
    W = torch.zeros((2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([W, b], lr=0.1)
    for epoch in range(4):
        if epoch == 1:
            opt.param_groups[0]["lr"] = 0.05
        cost = torch.mean((x_train.matmul(W) + b - y_train) ** 2)
        opt.zero_grad()
        cost.backward()
        opt.step()
    assert torch.allclose(torch.tensor(by_name(state.tensors)["W"].value), W.detach())


def test_statement_stepping_visits_lesson_lines_in_order(make_lesson):
    lesson = make_lesson(["a = 1\nfor i in range(2):\n    a += i\n    a *= 2\nb = a\n"])
    first = lesson.cells[0].line
    runner = Runner(lesson)
    lines = []
    try:
        for _ in range(20):
            runner.step()
            state = runner.wait(TIMEOUT)
            if state.status == "done":
                break
            lines.append(state.line - first + 1)
    finally:
        runner.close()
    assert lines == [1, 2, 3, 4, 3, 4, 5]
    assert state.outputs[0] == ""


def test_iteration_stepping_gives_one_snapshot_per_epoch_with_torch_grads(gd_lesson):
    lesson = gd_lesson("LOOP_SGD", epochs=4)
    expected = reference(0.1, epochs=4, use_optim=True)
    runner = Runner(lesson)
    seen = []
    try:
        runner.next()
        state = runner.wait(TIMEOUT)
        assert state.cells_done == (0,) and state.status == "paused"
        while True:
            runner.next()
            state = runner.wait(TIMEOUT)
            if state.status == "done":
                break
            seen.append(state)
    finally:
        runner.close()
    assert [s.iteration for s in seen] == [0, 1, 2, 3]
    assert len({s.pause_index for s in seen}) == 4
    # At the start of iteration k the snapshot shows the result of iteration k-1.
    for state, (W, b, W_grad, b_grad, cost) in zip(seen[1:], expected):
        tensors = by_name(state.tensors)
        assert torch.allclose(torch.tensor(tensors["W"].value), W)
        assert torch.allclose(torch.tensor(tensors["W"].grad), W_grad)
        assert torch.allclose(torch.tensor(tensors["b"].grad), b_grad)
        assert tensors["W"].changed and tensors["W"].is_parameter
        assert tensors["W"].delta is not None
        assert state.cost == pytest.approx(cost)
    delta = torch.tensor(by_name(seen[2].tensors)["W"].delta)
    assert torch.allclose(delta, expected[1][0] - expected[0][0])


def test_parameters_of_modules_come_first_with_dotted_names(make_lesson):
    lesson = make_lesson([
        "import torch\nfrom torch import nn\ntorch.manual_seed(1)\n"
        "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.linear = nn.Linear(2, 1)\n"
        "    def forward(self, x):\n        return self.linear(x)\n"
        "x = torch.ones(1, 2)\nmodel = M()\nbig = torch.arange(100.0)\n"
    ])
    state = Runner(lesson).run_to_end()
    names = [t.name for t in state.tensors]
    assert names[:2] == ["model.linear.weight", "model.linear.bias"]
    torch.manual_seed(1)
    linear = torch.nn.Linear(2, 1)
    assert torch.allclose(torch.tensor(state.tensors[0].value), linear.weight.detach())
    big = by_name(state.tensors)["big"]
    assert big.value is None
    assert big.stats["mean"] == pytest.approx(49.5) and big.stats["max"] == 99.0
    assert big.stats["std"] == pytest.approx(torch.arange(100.0).std().item())


def test_set_lr_rejects_bad_values(make_lesson):
    runner = Runner(make_lesson(["x = 1\n"]))
    for bad in (0, -1.0, float("nan"), float("inf"), "0.1", True):
        with pytest.raises(ValueError):
            runner.set_lr(bad)
    with pytest.raises(ValueError):
        Runner(make_lesson(["x = 1\n"]), lr_override=-0.5)
    assert runner.state.lr_override is None


def test_reset_keeps_the_override_and_reseeds(make_lesson):
    lesson = make_lesson(["import torch\nr = torch.rand(3)\nlr = 1.0\nused = lr\n"], seed=7)
    runner = Runner(lesson, lr_override=0.25)
    first = runner.run_to_end()
    runner.reset()
    assert runner.state.status == "idle" and runner.state.lr_override == 0.25
    second = runner.run_to_end()
    torch.manual_seed(7)
    assert by_name(first.tensors)["r"].value == by_name(second.tensors)["r"].value
    assert torch.allclose(torch.tensor(by_name(first.tensors)["r"].value), torch.rand(3))
    assert second.lr == 0.25


def test_set_lr_none_restores_the_lessons_values(make_lesson):
    lesson = make_lesson(["import torch\nW = torch.zeros(1, requires_grad=True)\n"
                          "opt = torch.optim.SGD([W], lr=0.3)\nlr = 0.3\nx = 1\ny = 2\n"])
    runner = Runner(lesson, lr_override=0.01)
    try:
        for _ in range(4):
            runner.step()
            runner.wait(TIMEOUT)
        runner.set_lr(None)
        runner.run()
        state = runner.wait(TIMEOUT)
    finally:
        runner.close()
    assert state.status == "done"
    assert state.lr == 0.3 and state.lr_override is None


def test_set_lr_while_running_freely_reaches_the_optimizer(make_lesson):
    lesson = make_lesson(["import torch\nW = torch.zeros(1, requires_grad=True)\n"
                          "opt = torch.optim.SGD([W], lr=0.3)\nwhile True:\n    cost = (W - 1).pow(2).sum()\n"
                          "    opt.zero_grad()\n    cost.backward()\n    opt.step()\n"])
    runner = Runner(lesson)
    try:
        runner.run()
        # at least one iteration at the lesson's 0.3 first (a fixed sleep could end
        # before the worker reached the loop: the change then came before iteration 0)
        deadline = time.monotonic() + TIMEOUT
        while not runner.state.costs and time.monotonic() < deadline:
            time.sleep(0.005)
        assert runner.state.costs, "no iteration published while running"
        runner.set_lr(0.02)
        deadline = time.monotonic() + TIMEOUT
        while runner.state.lr != 0.02 and time.monotonic() < deadline:
            time.sleep(0.01)
        runner.pause()
        state = runner.wait(TIMEOUT)
    finally:
        runner.close()
    assert state.lr == 0.02 and state.lr_override == 0.02
    assert state.costs[-1].lr == 0.02 and state.costs[0].lr == 0.3
    assert state.lr_changes and state.costs[state.lr_changes[0]].lr == 0.02
