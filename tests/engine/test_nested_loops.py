"""Training loops inside the cell's own `try`, `with` and `if` step by iterations.

Notebooks write `try: for epoch ...: except KeyboardInterrupt:` (stop training early)
or `with torch.autograd.set_detect_anomaly(True): for epoch ...:`. Such a loop is the
cell's as much as one at its top (instrument.py): iteration points, the cost plot,
divergence, the landscape. Its numbers against plain torch; an exception the cell
catches leaves no half iteration behind.
"""

from __future__ import annotations

import ast

import torch

from tutor.engine import events as ev
from tutor.engine.checker import check_file
from tutor.engine.instrument import cell_loops, instrument
from tutor.engine.runner import Runner

TIMEOUT = 30

SETUP = """
import torch
x_train = torch.FloatTensor([[1], [2], [3]])
y_train = torch.FloatTensor([[2], [4], [6]])
W = torch.zeros(1, requires_grad=True)
optimizer = torch.optim.SGD([W], lr=0.05)
"""

STOPPED = """
try:
    for epoch in range(6):
        cost = torch.mean((x_train * W - y_train) ** 2)
        if epoch == 3:
            raise KeyboardInterrupt  # the learner stopped training (as Ctrl-C would)
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
except KeyboardInterrupt:
    print("stopped at", epoch)
with torch.no_grad():
    k = 0
    while k < 2:
        cost = torch.mean((x_train * W - y_train) ** 2)
        k += 1
"""


def plain() -> list[float]:
    x = torch.FloatTensor([[1], [2], [3]])
    y = torch.FloatTensor([[2], [4], [6]])
    W = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([W], lr=0.05)
    costs = []
    for _ in range(3):
        cost = torch.mean((x * W - y) ** 2)
        opt.zero_grad()
        cost.backward()
        opt.step()
        costs.append(cost.item())
    with torch.no_grad():
        costs += [torch.mean((x * W - y) ** 2).item()] * 2
    return costs


def test_numbering_is_the_same_for_the_rewriter_and_its_readers():
    source = (
        "if True:\n    for a in range(2):\n        pass\n"
        "try:\n    for e in range(3):\n        pass\nexcept ValueError:\n    for z in range(1):\n        pass\n"
        "with open('x') if False else __import__('contextlib').nullcontext():\n    k = 0\n    while k < 1:\n        k += 1\n"
        "for x in range(1):\n    for y in range(2):\n        pass\n"
        "def f():\n    for q in range(2):\n        pass\n"
    )
    loops = cell_loops(ast.parse(source))
    assert [loop.lineno for loop in loops] == [2, 5, 8, 12, 14]  # not the inner `for y`, nor f's
    assert instrument(source, filename="x.md", first_line=1).loops == 5


def test_a_loop_in_try_and_one_in_with_record_their_iterations(make_lesson):
    lesson = make_lesson([SETUP, STOPPED])
    events = []
    runner = Runner(lesson, on_event=events.append)
    state = runner.run_to_end()
    runner.close()
    assert state.status == "done", state.error
    assert state.outputs[1] == "stopped at 3\n"
    # three whole epochs (the fourth raised half way: not recorded), then the while loop
    assert [(c.iteration, c.cost) for c in state.costs] == list(zip([0, 1, 2, 0, 1], plain()))
    iterations = [(e.cell, e.iteration) for e in events if isinstance(e, ev.Iteration)]
    assert iterations == [(1, 0), (1, 1), (1, 2), (1, 0), (1, 1)]


def test_next_stops_at_each_epoch_inside_the_try(make_lesson):
    lesson = make_lesson([SETUP, STOPPED])
    runner = Runner(lesson)
    try:
        seen = []
        for _ in range(5):
            runner.next()
            state = runner.wait(TIMEOUT)
            seen.append((state.cell, state.iteration))
        assert seen == [(0, None), (1, 0), (1, 1), (1, 2), (1, 3)]
        runner.jump(1)  # step back inside the try's loop: exact
        state = runner.wait(TIMEOUT)
        assert state.iteration == 1
        W = next(t for t in state.tensors if t.name == "W")
        x = torch.FloatTensor([[1], [2], [3]])
        w = torch.zeros(1, requires_grad=True)
        torch.mean((x * w - 2 * x) ** 2).backward()
        assert W.value == (w.detach() - 0.05 * w.grad).tolist()  # one SGD step from 0, as torch takes it
    finally:
        runner.close()


def test_the_landscape_and_tutor_check_see_the_loop_in_the_try(make_lesson):
    lesson = make_lesson([SETUP, STOPPED.replace("if epoch == 3", "if epoch == 99")])
    runner = Runner(lesson, landscape=True)
    runner.goto_cell(1)
    runner.wait(TIMEOUT)
    for _ in range(3):
        runner.next()
        state = runner.wait(TIMEOUT)
    runner.close()
    assert state.landscape_problem is None and state.landscape is not None
    assert [a.name for a in state.landscape.axes] == ["W"]
    # a training loop only inside a try, its cost named nothing the plot knows: warned
    quiet = make_lesson([SETUP, STOPPED.replace("cost", "c")])
    _, problems = check_file(quiet.path)
    assert any("neither 'cost' nor 'loss'" in p.message for p in problems)


def test_a_loop_in_a_try_inside_a_function_steps_by_epochs_too(make_lesson):
    lesson = make_lesson([SETUP, """
def train(epochs):
    try:
        for epoch in range(epochs):
            cost = torch.mean((x_train * W - y_train) ** 2)
            optimizer.zero_grad()
            cost.backward()
            optimizer.step()
    except KeyboardInterrupt:
        pass
    return W
""", "W = train(3)\n"])
    runner = Runner(lesson)
    try:
        seen = []
        for _ in range(5):
            runner.next()
            state = runner.wait(TIMEOUT)
            seen.append((state.cell, state.iteration, state.frame and state.frame.function))
        assert seen[2:] == [(2, 0, "train"), (2, 1, "train"), (2, 2, "train")]
        runner.run()
        state = runner.wait(TIMEOUT)
        assert state.status == "done" and [c.cost for c in state.costs] == plain()[:3]
    finally:
        runner.close()
