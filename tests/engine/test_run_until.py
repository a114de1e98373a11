"""Run until, jump and divergence in the Runner, each against plain torch."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from tutor.engine.runner import Runner
from tutor.engine.until import parse_until

TIMEOUT = 20
EPOCHS = 300


@functools.lru_cache(maxsize=4)
def plain(lr: float, epochs: int = EPOCHS):
    """The fixtures' SGD loop in plain torch: per epoch the cost, the largest grad
    norm after backward, and (W, b) at the start of each epoch (and at the end)."""
    x_train = torch.FloatTensor([[1.0, 2.0], [2.0, 1.0], [3.0, 4.0]])
    y_train = torch.FloatTensor([[3.0], [3.0], [7.5]])
    W = torch.zeros((2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([W, b], lr=lr)
    costs, grads, params = [], [], []
    for _ in range(epochs):
        params.append((W.detach().clone(), b.detach().clone()))
        cost = torch.mean((x_train.matmul(W) + b - y_train) ** 2)
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
        costs.append(cost.item())
        grads.append(max(("W", W.grad.norm().item()), ("b", b.grad.norm().item()), key=lambda g: g[1]))
    params.append((W.detach().clone(), b.detach().clone()))
    return costs, grads, params


def first(predicate, values) -> int:
    return next(i for i, v in enumerate(values) if predicate(i, v))


@pytest.fixture
def sgd(make_lesson, sources):
    def make(lr: float, epochs: int = EPOCHS):
        loop = sources.LOOP_SGD.replace("EPOCHS", str(epochs)).replace("lr=0.1", f"lr={lr}")
        return make_lesson([sources.SETUP, loop])

    return make


def tensors(state):
    views = {t.name: t for t in state.tensors}
    return torch.tensor(views["W"].value), torch.tensor(views["b"].value)


def assert_after(state, lr: float, updates: int):
    """The state's W and b equal plain torch's after `updates` epochs."""
    W, b = tensors(state)
    pW, pb = plain(lr)[2][updates]
    assert torch.allclose(W, pW, rtol=1e-6, atol=0) and torch.allclose(b, pb, rtol=1e-6, atol=0)


def until(lesson, text: str, *, start=None):
    runner = Runner(lesson)
    try:
        if start is not None:
            start(runner)
        runner.run_until(text)
        return runner, runner.wait(TIMEOUT)
    except BaseException:
        runner.close()
        raise


@pytest.mark.parametrize("lr, text, predicate", [
    (0.01, "cost < 0.02", lambda i, c: c < 0.02),
    (0.01, "cost < 5", lambda i, c: c < 5),
    (0.1, "cost > 100", lambda i, c: c > 100),
    (0.1, "cost rises", lambda i, c: i > 0 and c > plain(0.1)[0][i - 1]),
])
def test_cost_conditions_stop_at_torchs_first_iteration(sgd, lr, text, predicate):
    expected = first(predicate, plain(lr)[0])
    runner, state = until(sgd(lr), text)
    runner.close()
    assert state.status == "paused"
    assert state.until.reason == "met" and state.until.iteration == expected
    assert state.until.cost == pytest.approx(plain(lr)[0][expected], rel=1e-6)
    assert state.costs[-1].iteration == expected and state.iteration == expected + 1
    assert_after(state, lr, expected + 1)


def test_grad_condition_names_the_parameter(sgd):
    grads = plain(0.1)[1]
    threshold = (grads[2][1] + grads[3][1]) / 2
    expected = first(lambda i, g: g[1] > threshold, grads)
    runner, state = until(sgd(0.1), f"grad > {threshold}")
    runner.close()
    assert state.until.reason == "met" and state.until.iteration == expected
    assert state.until.parameter == grads[expected][0]
    assert state.until.grad_norm == pytest.approx(grads[expected][1], rel=1e-6)


def test_nan_condition_pauses_at_the_last_finite_iteration(make_lesson):
    lesson = make_lesson(["import torch\nfor i in range(20):\n"
                          "    cost = torch.tensor(float('nan') if i == 7 else 1.0 + i)\n"])
    runner, state = until(lesson, "nan")
    runner.close()
    assert state.until.reason == "met" and state.until.iteration == 7
    assert state.status == "paused" and state.iteration == 7  # before the nan iteration ran
    assert [c.iteration for c in state.costs] == list(range(7))
    assert state.divergence.kind == "nonfinite" and state.divergence.last_finite == 6


def test_iteration_target_and_the_loops_end(sgd):
    runner, state = until(sgd(0.01), "100")
    try:
        assert state.until.reason == "reached" and state.iteration == 100 and state.line is not None
        assert_after(state, 0.01, 100)
        runner.run_until("1000")  # beyond the loop: pauses after it, saying so
        state = runner.wait(TIMEOUT)
        assert state.until.reason == "loop_end" and state.until.iteration == EPOCHS - 1
        assert state.status in ("paused", "done") and len(state.costs) == EPOCHS
        runner.run()
        done = runner.wait(TIMEOUT)
        runner.run_until("cost < 0.01")  # after the end: nothing runs, it says so
        assert runner.state.until.reason == "end" and runner.state.pause_index == done.pause_index
    finally:
        runner.close()


def test_a_condition_never_met_pauses_at_the_loops_end(sgd):
    runner, state = until(sgd(0.01, 50), "cost < 0.0001")
    runner.close()
    assert state.until.reason == "loop_end" and state.until.iteration == 49
    assert state.until.cost == pytest.approx(plain(0.01, 50)[0][49], rel=1e-6)


def test_jumps_forward_and_back_are_exact(sgd):
    lesson = sgd(0.01)
    runner, state = until(lesson, "@120")
    try:
        assert state.iteration == 120
        assert_after(state, 0.01, 120)
        for target in (40, 0, 250, 250, 7, 299):
            runner.jump(target)
            state = runner.wait(TIMEOUT)
            assert state.status == "paused" and state.iteration == target and state.cell == 1
            assert_after(state, 0.01, target)
            assert len(state.costs) == target
        runner.run()
        runner.wait(TIMEOUT)
        runner.run_until("@3")  # after the loop (here: the end): back into it
        state = runner.wait(TIMEOUT)
        assert state.iteration == 3
        assert_after(state, 0.01, 3)
    finally:
        runner.close()


def update_growth(lr: float, first: int, last: int) -> dict[str, float]:
    """Plain torch: each parameter's update norm at `last` over the one at `first`."""
    params = plain(lr)[2]
    out = {}
    for n, name in enumerate(("W", "b")):
        u = lambda t: (params[t + 1][n].double() - params[t][n].double()).norm().item()  # noqa: E731
        out[name] = u(last) / u(first)
    return out


def test_divergence_growth_pauses_names_the_parameter_and_offers_the_way_back(sgd):
    costs = plain(0.1)[0]
    grown = first(lambda i, c: i >= 5 and c >= 10 * costs[i - 5], costs)
    runner = Runner(sgd(0.1))
    try:
        runner.run()
        state = runner.wait(TIMEOUT)
        div = state.divergence
        assert state.status == "paused" and div.kind == "growth" and div.iteration == grown
        assert div.last_finite == grown and state.iteration == grown + 1
        assert div.growth_start == 0  # rising from the first iteration on
        assert_after(state, 0.1, grown + 1)
        growth = update_growth(0.1, 0, grown)
        assert div.parameter == max(growth, key=growth.get)
        assert div.update_growth == pytest.approx(growth[div.parameter], rel=1e-5)
        # Continuing does not stop again for the same growth; the cost turning
        # non-finite does, at the last finite iteration.
        runner.run()
        state = runner.wait(TIMEOUT)
        blown = first(lambda i, c: not math.isfinite(c), costs)
        div = state.divergence
        assert div.kind == "nonfinite" and div.iteration == blown and div.last_finite == blown - 1
        assert state.iteration == blown and len(state.costs) == blown
        assert all(math.isfinite(c.cost) for c in state.costs)
        assert state.nonfinite is not None
        runner.goto(div.back_point)  # what `b` does at a divergence pause
        back = runner.wait(TIMEOUT)
        assert back.iteration == div.growth_start and back.divergence is None
        assert_after(back, 0.1, div.growth_start)
    finally:
        runner.close()


def test_divergence_after_going_back_with_a_smaller_lr_does_not_stop(sgd):
    runner = Runner(sgd(0.1, 60))
    try:
        runner.run()
        div = runner.wait(TIMEOUT).divergence
        runner.goto(div.back_point)
        runner.wait(TIMEOUT)
        runner.set_lr(0.01)
        runner.run()
        state = runner.wait(TIMEOUT)
    finally:
        runner.close()
    assert state.status == "done" and state.divergence is None
    assert [c.lr for c in state.costs] == [0.01] * 60


def test_headless_until_stops_the_run_there(make_lesson):
    lesson = make_lesson(["for i in range(50):\n    cost = 10.0 - i\n    print('epoch', i)\n"])
    state = Runner(lesson).run_to_end(parse_until("cost < 3"))
    assert state.until.reason == "met" and state.until.iteration == 8
    assert state.outputs[0].splitlines()[-1] == "epoch 8"
    never = Runner(lesson).run_to_end(parse_until("cost < -100"))
    assert never.until.reason == "end" and never.status == "done"
    assert never.outputs[0].splitlines()[-1] == "epoch 49"
    reached = Runner(lesson).run_to_end(parse_until("20"))
    assert reached.until.reason == "reached" and reached.iteration == 20
    assert reached.outputs[0].splitlines()[-1] == "epoch 19"
