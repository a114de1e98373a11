"""Training loops inside functions defined in lesson cells (`def train(...)`).

The iterations of the function's loop are recorded and steppable like a cell's own
loop: the events equal plain torch running the same function, the lr override
reaches the function's optimizer and its `lr` parameter, the tensor table shows the
function's locals first, the state says where the run is (`train` called from cell
2), and step back lands exactly on an earlier iteration inside the function.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tutor.engine import events as ev
from tutor.engine.runner import Runner

TIMEOUT = 10
EPOCHS = 5

SETUP = """
import torch
from torch import nn
import torch.nn.functional as F
x_train = torch.FloatTensor([[1.0], [2.0], [3.0]])
y_train = torch.FloatTensor([[2.0], [4.0], [6.0]])
scale = torch.tensor(2.0)
"""

TRAIN_OPTIM = """
def train(model, x, y, epochs, lr=0.1):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for epoch in range(epochs):
        prediction = model(x)
        cost = F.mse_loss(prediction, y)
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
    return model
"""

TRAIN_HAND = """
def train(x, y, epochs, lr=0.05):
    W = torch.zeros(1, requires_grad=True)
    for epoch in range(epochs):
        cost = torch.mean((x * W - y) ** 2)
        cost.backward()
        with torch.no_grad():
            W -= lr * W.grad
            W.grad.zero_()
    return W
"""

CALL_OPTIM = f"torch.manual_seed(1)\nmodel = nn.Linear(1, 1)\ntrained = train(model, x_train, y_train, {EPOCHS})\n"
CALL_HAND = f"W_final = train(x_train, y_train, {EPOCHS})\n"


def plain_optim(lr: float):
    """The same training in plain torch: per epoch (weight, bias, cost) after the step."""
    x = torch.FloatTensor([[1.0], [2.0], [3.0]])
    y = torch.FloatTensor([[2.0], [4.0], [6.0]])
    torch.manual_seed(1)
    model = nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    out = []
    for _ in range(EPOCHS):
        cost = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
        out.append((model.weight.detach().clone(), model.bias.detach().clone(), cost.item()))
    return out


def plain_hand(lr: float):
    x = torch.FloatTensor([[1.0], [2.0], [3.0]])
    y = torch.FloatTensor([[2.0], [4.0], [6.0]])
    W = torch.zeros(1, requires_grad=True)
    out = []
    for _ in range(EPOCHS):
        cost = torch.mean((x * W - y) ** 2)
        cost.backward()
        with torch.no_grad():
            W -= lr * W.grad
            W.grad.zero_()
        out.append((W.detach().clone(), cost.item()))
    return out


@pytest.fixture
def optim_lesson(make_lesson):
    return make_lesson([SETUP, TRAIN_OPTIM, CALL_OPTIM])


@pytest.fixture
def hand_lesson(make_lesson):
    return make_lesson([SETUP, TRAIN_HAND, CALL_HAND])


def by_name(views):
    return {v.name: v for v in views}


@pytest.mark.parametrize("override", [None, 0.02])
def test_iteration_events_equal_plain_torch(optim_lesson, override):
    events: list = []
    runner = Runner(optim_lesson, lr_override=override, on_event=events.append, record_every_iteration=True)
    state = runner.run_to_end()
    assert state.status == "done" and state.error is None, state.error
    iterations = [e for e in events if isinstance(e, ev.Iteration)]
    expected = plain_optim(override or 0.1)
    assert [(e.cell, e.iteration) for e in iterations] == [(2, k) for k in range(EPOCHS)]
    for event, (weight, bias, cost) in zip(iterations, expected):
        assert event.lr == (override or 0.1)  # the optimizer in the function's locals
        assert event.cost == pytest.approx(cost, rel=1e-6)  # `cost` is a local of train()
        tensors = by_name(event.tensors)
        assert torch.allclose(torch.tensor(tensors["model.weight"].value), weight)
        assert torch.allclose(torch.tensor(tensors["model.bias"].value), bias)
    assert [p.cost for p in state.costs] == pytest.approx([c for _, _, c in expected], rel=1e-6)
    assert state.frame is None  # done: back in no function


@pytest.mark.parametrize("override", [None, 0.01])
def test_hand_written_update_with_an_lr_parameter(hand_lesson, override):
    events: list = []
    runner = Runner(hand_lesson, lr_override=override, on_event=events.append, record_every_iteration=True)
    state = runner.run_to_end()
    assert state.error is None, state.error
    iterations = [e for e in events if isinstance(e, ev.Iteration)]
    expected = plain_hand(override or 0.05)
    assert len(iterations) == EPOCHS
    for event, (W, cost) in zip(iterations, expected):
        assert event.lr == (override or 0.05)  # train's `lr` parameter
        assert event.cost == pytest.approx(cost, rel=1e-6)
        assert torch.allclose(torch.tensor(by_name(event.tensors)["W"].value), W)


def test_next_steps_epochs_inside_the_function_with_its_locals_first(optim_lesson):
    runner = Runner(optim_lesson)
    try:
        runner.next()  # cell 0
        runner.wait(TIMEOUT)
        runner.next()  # cell 1 (the def)
        runner.wait(TIMEOUT)
        runner.next()  # into train(): epoch 0 starts
        state = runner.wait(TIMEOUT)
        assert (state.status, state.cell, state.iteration) == ("paused", 2, 0)
        call_line = optim_lesson.cells[2].line + 2
        assert state.frame is not None
        assert (state.frame.function, state.frame.call_cell, state.frame.call_line) == ("train", 2, call_line)
        assert state.line == state.frame.line == optim_lesson.cells[1].line + 3  # prediction = model(x)
        names = [v.name for v in state.tensors]
        # train's locals first (its model's parameters, x, y), then the globals not
        # shown already (x_train is x, the global model is the local one)
        assert names == ["model.weight", "model.bias", "x", "y", "scale"]
        for _ in range(2):
            runner.next()
            state = runner.wait(TIMEOUT)
        assert state.iteration == 2
        assert "cost" in [v.name for v in state.tensors] and "prediction" in [v.name for v in state.tensors]
        expected = plain_optim(0.1)
        assert state.cost == pytest.approx(expected[1][2], rel=1e-6)  # cost of epoch 1, recorded
        assert state.lr == 0.1
        weight = by_name(state.tensors)["model.weight"].value
        assert torch.allclose(torch.tensor(weight), expected[1][0])
    finally:
        runner.close()


def test_statement_steps_go_into_the_function_and_back(optim_lesson):
    runner = Runner(optim_lesson)
    try:
        for _ in range(2):
            runner.next()
            runner.wait(TIMEOUT)
        lines = []
        frames = []
        for _ in range(6):
            runner.step()
            state = runner.wait(TIMEOUT)
            lines.append(state.line)
            frames.append(state.frame.function if state.frame else None)
        first = optim_lesson.cells[2].line
        body = optim_lesson.cells[1].line
        assert lines == [first, first + 1, first + 2, body + 1, body + 2, body + 3]
        assert frames == [None, None, None, "train", "train", "train"]
    finally:
        runner.close()


def test_step_back_inside_the_function_is_exact(optim_lesson):
    runner = Runner(optim_lesson)
    try:
        for _ in range(2):
            runner.next()
            runner.wait(TIMEOUT)
        states = []
        for _ in range(4):
            runner.next()
            states.append(runner.wait(TIMEOUT))
        runner.set_lr(0.05)  # an lr change on the way: replayed where it was made
        runner.next()
        runner.wait(TIMEOUT)
        runner.clear_history()  # force a real replay, not a kept state
        runner.goto(states[1].pause_index)
        back = runner.wait(TIMEOUT)
        assert (back.iteration, back.frame, back.line) == (states[1].iteration, states[1].frame, states[1].line)
        assert by_name(back.tensors)["model.weight"].value == by_name(states[1].tensors)["model.weight"].value
        assert back.cost == states[1].cost
    finally:
        runner.close()


def test_a_batch_loop_in_a_function_called_from_an_epoch_loop_is_statements(make_lesson):
    """Only one loop is steppable at a time: the outer one (epochs), so `n` is one epoch."""
    lesson = make_lesson([
        SETUP,
        "def one_epoch(W, lr=0.01):\n    for xb, yb in zip(x_train, y_train):\n"
        "        cost = ((xb * W - yb) ** 2).mean()\n        cost.backward()\n"
        "        with torch.no_grad():\n            W -= lr * W.grad\n            W.grad.zero_()\n    return cost\n",
        "W = torch.zeros(1, requires_grad=True)\nfor epoch in range(3):\n    cost = one_epoch(W)\n",
    ])
    events: list = []
    state = Runner(lesson, on_event=events.append).run_to_end()
    assert state.error is None, state.error
    iterations = [e for e in events if isinstance(e, ev.Iteration)]
    assert [(e.cell, e.iteration) for e in iterations] == [(2, 0), (2, 1), (2, 2)]


def test_an_lr_set_while_paused_inside_the_function_reaches_its_local(hand_lesson):
    """set_lr() at epoch 2 inside train(): the paused frame's `lr` local takes it."""
    events: list = []
    runner = Runner(hand_lesson, on_event=events.append)
    try:
        for _ in range(2):
            runner.next()
            runner.wait(TIMEOUT)
        for _ in range(3):  # into train(): epochs 0, 1, 2 start
            runner.next()
            state = runner.wait(TIMEOUT)
        assert (state.frame.function, state.iteration) == ("train", 2)
        runner.set_lr(0.01)
        runner.run()
        state = runner.wait(TIMEOUT)
        assert state.status == "done" and state.error is None, state.error
    finally:
        runner.close()
    x = torch.FloatTensor([[1.0], [2.0], [3.0]])
    y = torch.FloatTensor([[2.0], [4.0], [6.0]])
    W = torch.zeros(1, requires_grad=True)
    costs = []
    for epoch in range(EPOCHS):
        lr = 0.05 if epoch < 2 else 0.01
        cost = torch.mean((x * W - y) ** 2)
        cost.backward()
        with torch.no_grad():
            W -= lr * W.grad
            W.grad.zero_()
        costs.append(cost.item())
    iterations = [e for e in events if isinstance(e, ev.Iteration)]
    assert [e.lr for e in iterations] == [0.05, 0.05, 0.01, 0.01, 0.01]
    assert [e.cost for e in iterations] == pytest.approx(costs, rel=1e-6)


def test_the_lr_in_force_is_the_functions_own_optimizer_before_a_global_one(make_lesson):
    """scope() order: a function's local optimizer comes before one in the namespace,
    also after a cell-level loop made the global one the one found last."""
    setup = ("import torch\nw = torch.zeros(1, requires_grad=True)\n"
             "optimizer = torch.optim.SGD([w], lr=0.5)\n"
             "for i in range(2):\n    cost = (w - 1).pow(2).sum()\n"
             "    optimizer.zero_grad()\n    cost.backward()\n    optimizer.step()\n")
    train = ("def train():\n    v = torch.zeros(1, requires_grad=True)\n"
             "    opt = torch.optim.SGD([v], lr=0.03)\n    for i in range(3):\n"
             "        cost = (v - 2).pow(2).sum()\n        opt.zero_grad()\n"
             "        cost.backward()\n        opt.step()\n    return v\n")
    state = Runner(make_lesson([setup, train, "v = train()"])).run_to_end()
    assert state.status == "done", state.error
    assert [round(p.lr, 6) for p in state.costs] == [0.5, 0.5, 0.03, 0.03, 0.03]
