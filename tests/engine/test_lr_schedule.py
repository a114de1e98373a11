"""The lr schedule: lr changes recorded as (pause point, lr) and replayed, so going back
across a change is exact and keeps the history (against plain torch)."""

from __future__ import annotations

import time

import pytest

from tutor.engine import runner as runner_mod
from tutor.engine.runner import Runner

from tests.engine.conftest import plain_fit

TIMEOUT = 10
EPOCHS = 30


def plain(schedule: dict[int, float], epochs: int = EPOCHS, manual: bool = False):
    """Plain torch (conftest.plain_fit): (costs, [(W, b) at the start of each epoch, and
    at the end])."""
    fit = plain_fit(epochs, schedule, manual)
    return fit.costs, fit.params


def flat(value) -> list[float]:
    return [x for item in value for x in flat(item)] if isinstance(value, list) else [value]


def wb(state):
    views = {t.name: t for t in state.tensors}
    return flat(views["W"].value), flat(views["b"].value)


@pytest.fixture(params=["sgd", "manual"])
def kind(request):
    """optim.SGD, or the lr variable by hand."""
    return request.param


@pytest.fixture
def lesson(kind, make_lesson, sources):
    loop = sources.LOOP_SGD if kind == "sgd" else sources.LOOP_LR
    loop = loop.replace("EPOCHS", str(EPOCHS)).replace("lr=0.1", "lr=0.01")
    setup = sources.SETUP.replace("lr = 0.1", "lr = 0.01")
    return make_lesson([setup, loop])


def next_to(runner: Runner, iteration: int):
    """Press `next` until the loop's iteration point `iteration` (cell 1)."""
    while True:
        state = runner.state
        if state.status == "paused" and state.cell == 1 and state.iteration == iteration and state.line is not None:
            return state
        assert state.status in ("paused", "idle", "running"), state
        runner.next()
        runner.wait(TIMEOUT)


def wait_for(runner: Runner, predicate, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runner.wait(0.5)
        if predicate(runner.state):
            return runner.state
        time.sleep(0.005)
    raise AssertionError(f"not reached: {runner.state}")


@pytest.mark.parametrize("history", [0, 512], ids=["replay-only", "with-history"])
def test_step_back_across_lr_changes_equals_plain_torch(lesson, kind, monkeypatch, history):
    monkeypatch.setattr(runner_mod, "HISTORY_SIZE", history)
    expected_costs, expected_params = plain({0: 0.01, 10: 0.05, 20: 0.02}, manual=kind == "manual")
    runner = Runner(lesson)
    try:
        at10 = next_to(runner, 10)
        runner.set_lr(0.05)
        at20 = next_to(runner, 20)
        runner.set_lr(0.02)
        runner.run()
        done = runner.wait(TIMEOUT)
        assert done.status == "done"
        assert [c.cost for c in done.costs] == pytest.approx(expected_costs, rel=1e-6)
        assert [c.lr for c in done.costs] == [0.01] * 10 + [0.05] * 10 + [0.02] * 10
        assert runner.lr_schedule == ((-1, None), (at10.pause_index, 0.05), (at20.pause_index, 0.02))

        # Back across both changes, to iteration 5, then to 15 and 25: each exact.
        for iteration in (5, 15, 25, 12):
            k = at10.pause_index + (iteration - 10) * (at20.pause_index - at10.pause_index) // 10
            runner.goto(k)
            state = wait_for(runner, lambda s: s.status == "paused")
            assert state.iteration == iteration and state.pause_index == k
            W, b = wb(state)
            assert W == pytest.approx(flat(expected_params[iteration][0]), rel=1e-6)
            assert b == pytest.approx(flat(expected_params[iteration][1]), rel=1e-6)
            assert state.lr_override == (None if iteration < 10 else 0.05 if iteration < 20 else 0.02)
            assert [c.cost for c in state.costs] == pytest.approx(expected_costs[:iteration], rel=1e-6)
        # Forward again from 12 replays the same schedule: the same run to the end.
        runner.run()
        again = runner.wait(TIMEOUT)
    finally:
        runner.close()
    assert again.costs == done.costs
    assert wb(again) == wb(done)


def test_a_change_after_going_back_replaces_the_later_ones(lesson, kind):
    runner = Runner(lesson)
    try:
        at10 = next_to(runner, 10)
        runner.set_lr(0.05)
        runner.run()
        runner.wait(TIMEOUT)
        runner.goto(next_to_index(lesson, 5))
        at5 = wait_for(runner, lambda s: s.status == "paused")
        assert at5.iteration == 5 and at5.lr_override is None
        kept_before = [k for k in runner._history if k <= at5.pause_index]
        runner.set_lr(0.03)
        assert runner.lr_schedule == ((-1, None), (at5.pause_index, 0.03))
        assert all(k <= at5.pause_index for k in runner._history)  # later states ran with 0.05
        assert kept_before == [k for k in runner._history if k <= at5.pause_index]  # earlier kept
        assert runner.state.lr_override == 0.03
        runner.run()
        done = runner.wait(TIMEOUT)
    finally:
        runner.close()
    expected_costs, expected_params = plain({0: 0.01, 5: 0.03}, manual=kind == "manual")
    assert [c.cost for c in done.costs] == pytest.approx(expected_costs, rel=1e-6)
    assert wb(done)[0] == pytest.approx(flat(expected_params[-1][0]), rel=1e-6)


def next_to_index(lesson, iteration: int) -> int:
    runner = Runner(lesson)
    try:
        return next_to(runner, iteration).pause_index
    finally:
        runner.close()


def test_a_change_while_running_freely_is_replayed_exactly(make_lesson):
    """set_lr() during a free run lands at some pause point the worker chooses; going
    back before it and forward again gives bit-identical costs."""
    lesson = make_lesson(["import torch\nW = torch.zeros(1, requires_grad=True)\n"
                          "opt = torch.optim.SGD([W], lr=0.3)\nfor i in range(200000):\n"
                          "    cost = (W - 1).pow(2).sum()\n"
                          "    opt.zero_grad()\n    cost.backward()\n    opt.step()\n"])
    runner = Runner(lesson)
    try:
        runner.run()
        wait_for(runner, lambda s: len(s.costs) > 50)
        runner.set_lr(0.02)
        changed = wait_for(runner, lambda s: s.lr_changes)
        runner.pause()
        paused = runner.wait(TIMEOUT)
        (_, start), (point, lr) = runner.lr_schedule
        assert start is None and lr == 0.02 and 0 < point < paused.pause_index
        step = changed.lr_changes[0]
        runner.goto(point - 5)
        wait_for(runner, lambda s: s.status == "paused" and s.pause_index == point - 5)
        assert runner.state.lr_override is None
        runner.goto(paused.pause_index)
        again = wait_for(runner, lambda s: s.status == "paused" and s.pause_index == paused.pause_index)
    finally:
        runner.close()
    assert again.costs == paused.costs
    assert [c.lr for c in again.costs[:step]] == [0.3] * step
    assert {c.lr for c in again.costs[step:]} == {0.02}


def test_reset_keeps_the_override_in_force_and_starts_a_new_schedule(lesson):
    runner = Runner(lesson)
    try:
        next_to(runner, 3)
        runner.set_lr(0.05)
        runner.reset()
        assert runner.lr_schedule == ((-1, 0.05),)
        runner.run()
        done = runner.wait(TIMEOUT)
    finally:
        runner.close()
    assert {c.lr for c in done.costs} == {0.05}


def test_an_installed_schedule_is_followed_by_the_next_replay(lesson, kind):
    """The kernel's checkpoints hand the schedule to a resumed process this way."""
    probe = Runner(lesson)
    try:
        at10 = next_to(probe, 10)
    finally:
        probe.close()
    runner = Runner(lesson)
    try:
        runner.set_lr_schedule([(-1, None), (at10.pause_index, 0.05)])
        runner.run()
        done = runner.wait(TIMEOUT)
        with pytest.raises(ValueError):
            runner.set_lr_schedule([(3, 0.1)])
        with pytest.raises(ValueError):
            runner.set_lr_schedule([(-1, -1.0)])
    finally:
        runner.close()
    expected_costs, _ = plain({0: 0.01, 10: 0.05}, manual=kind == "manual")
    assert [c.cost for c in done.costs] == pytest.approx(expected_costs, rel=1e-6)
