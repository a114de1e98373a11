"""Step back: granularity, the free-run pause tail, and states equal to stepping forward."""

from __future__ import annotations

import functools
import time

import pytest
import torch

from tutor.engine import events as ev
from tutor.engine import runner as runner_mod
from tutor.engine.runner import TAIL_POINTS, Runner

TIMEOUT = 10
LR = 0.01  # the fixtures' data diverges at 0.1 within a few hundred epochs


def by_name(tensors):
    return {t.name: t for t in tensors}


@functools.lru_cache(maxsize=4)
def _trajectory(epochs: int) -> tuple:
    x_train = torch.FloatTensor([[1.0, 2.0], [2.0, 1.0], [3.0, 4.0]])
    y_train = torch.FloatTensor([[3.0], [3.0], [7.5]])
    W = torch.zeros((2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([W, b], lr=LR)
    grad = (lambda t: None if t.grad is None else t.grad.tolist())
    points = [{"W": (W.tolist(), None), "b": (b.tolist(), None)}]
    for _ in range(epochs):
        cost = torch.mean((x_train.matmul(W) + b - y_train) ** 2)
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
        points.append({"W": (W.tolist(), grad(W)), "b": (b.tolist(), grad(b))})
    return tuple(points)


def torch_after(epochs: int) -> dict[str, tuple[list, list | None]]:
    """W, b and their grads at the start of epoch `epochs` of the SGD loop, computed
    by plain torch: (value, grad) lists as a snapshot holds them."""
    return _trajectory(max(epochs, 600))[epochs]


def params(state) -> dict[str, tuple[list, list | None]]:
    views = by_name(state.tensors)
    return {name: (views[name].value, views[name].grad) for name in ("W", "b")}


def same_view(a, b) -> bool:
    """Same point, same tensors and grads, same costs and outputs."""
    return ((a.cell, a.line, a.iteration, a.pause_index) == (b.cell, b.line, b.iteration, b.pause_index)
            and [(t.name, t.value, t.grad) for t in a.tensors] == [(t.name, t.value, t.grad) for t in b.tensors]
            and a.costs == b.costs and a.outputs == b.outputs)


def pausing_at(iteration: int, cell: int):
    """An on_event handler that asks the runner to pause once `iteration` is recorded."""
    box: list = []

    def handler(event) -> None:
        if box and isinstance(event, ev.Iteration) and event.cell == cell and event.iteration == iteration:
            runner = box.pop()
            runner.pause()

    return box, handler


@pytest.fixture
def sgd_lesson(make_lesson, sources):
    def make(epochs: int):
        loop = sources.LOOP_SGD.replace("EPOCHS", str(epochs)).replace("lr=0.1", f"lr={LR}")
        return make_lesson([sources.SETUP, loop])

    return make


def forward_states(lesson, command: str) -> dict[int, object]:
    """Every state reached by repeating `next` or `step`, by pause index."""
    runner = Runner(lesson)
    states = {}
    try:
        while True:
            getattr(runner, command)()
            state = runner.wait(TIMEOUT)
            if state.status != "paused":
                return states
            states[state.pause_index] = state
    finally:
        runner.close()


def test_step_back_after_a_free_run_pause_is_served_from_the_history(sgd_lesson):
    lesson = sgd_lesson(600)
    box, handler = pausing_at(300, cell=1)
    runner = Runner(lesson, on_event=handler)
    box.append(runner)
    try:
        runner.run()
        paused = runner.wait(TIMEOUT)
        # the pause lands TAIL_POINTS epochs later, with each of them kept
        assert paused.status == "paused" and paused.iteration == 300 + TAIL_POINTS
        assert params(paused) == torch_after(paused.iteration)
        for back in range(1, TAIL_POINTS):
            target = runner.back_target()
            started = time.perf_counter()
            runner.step_back()
            shown = runner.state  # no waiting: shown from the history at once
            elapsed = time.perf_counter() - started
            assert runner._run.silent_arrival  # no replay was needed to show it
            assert elapsed < 0.1
            assert (shown.status, shown.pause_index) == ("paused", target)
            assert shown.iteration == paused.iteration - back
            assert params(shown) == torch_after(shown.iteration)
        arrived = runner.wait(TIMEOUT)  # the replay behind it agrees
        assert same_view(arrived, shown) and runner._run.points == shown.pause_index + 1
        # one more: beyond what was kept, so a replay, to the same tensors as torch
        runner.step_back()
        assert not runner._run.silent_arrival
        deep = runner.wait(TIMEOUT)
        assert deep.iteration == paused.iteration - TAIL_POINTS
        assert params(deep) == torch_after(deep.iteration)
        runner.next()  # and on from there as if never interrupted
        assert params(runner.wait(TIMEOUT)) == torch_after(deep.iteration + 1)
    finally:
        runner.close()


@pytest.mark.parametrize("history", [0, 512], ids=["replay-only", "with-history"])
def test_states_reached_back_equal_states_reached_forward(sgd_lesson, monkeypatch, history):
    monkeypatch.setattr(runner_mod, "HISTORY_SIZE", history)
    lesson = sgd_lesson(12)
    forward = forward_states(lesson, "step")
    # back over the whole run by statements, then by iterations after a free run
    runner = Runner(lesson)
    try:
        for _ in range(len(forward)):
            runner.step()
            runner.wait(TIMEOUT)
        seen = 0
        while runner.state.pause_index > 0:
            runner.step_back()
            state = runner.wait(TIMEOUT)
            assert same_view(state, forward[state.pause_index])
            seen += 1
        assert seen == len(forward) - 1
        runner.reset()
        runner.run()
        assert runner.wait(TIMEOUT).status == "done"
        iterations = []
        while runner.state.pause_index > 0:
            runner.step_back()
            state = runner.wait(TIMEOUT)
            assert same_view(state, forward[state.pause_index])
            if state.iteration is not None and state.line == lesson.cells[1].line + 2:
                iterations.append(state.iteration)
                assert params(state) == torch_after(state.iteration)
        assert iterations == list(range(11, -1, -1))
    finally:
        runner.close()


def test_iteration_granularity_after_next(sgd_lesson):
    lesson = sgd_lesson(5)
    loop_line = lesson.cells[1].line + 1  # the `for` statement
    body_line = loop_line + 1  # the iteration point
    runner = Runner(lesson)
    try:
        runner.next()
        end_of_setup = runner.wait(TIMEOUT)
        assert end_of_setup.line is None and end_of_setup.cells_done == (0,)
        for _ in range(4):
            runner.next()
            at = runner.wait(TIMEOUT)
        assert (at.iteration, at.line) == (3, body_line)
        for expected in (2, 1, 0):
            runner.step_back()
            state = runner.wait(TIMEOUT)
            assert (state.status, state.iteration, state.line) == ("paused", expected, body_line)
            assert params(state) == torch_after(expected)
        runner.step_back()  # from the first iteration: the point just before it
        before = runner.wait(TIMEOUT)
        assert (before.line, before.iteration) == (loop_line, None)
        runner.step_back()  # then the previous place where next() stops: the setup's end
        assert runner.wait(TIMEOUT).pause_index == end_of_setup.pause_index
    finally:
        runner.close()


def test_statement_granularity_after_step(sgd_lesson):
    lesson = sgd_lesson(3)
    runner = Runner(lesson)
    try:
        for _ in range(30):
            runner.step()
            runner.wait(TIMEOUT)
        at = runner.state
        lines = []
        for back in range(1, 8):
            runner.step_back()
            state = runner.wait(TIMEOUT)
            assert state.pause_index == at.pause_index - back
            lines.append(state.line)
        assert len(set(lines)) > 3  # statements of the body, not iteration points only
    finally:
        runner.close()


def test_after_done_step_back_goes_to_the_last_epoch_at_once(sgd_lesson):
    lesson = sgd_lesson(400)
    runner = Runner(lesson)
    try:
        runner.run()
        done = runner.wait(TIMEOUT)
        assert done.status == "done"
        runner.step_back()
        shown = runner.state
        assert runner._run.silent_arrival and shown.status == "paused"
        assert shown.iteration == 399 and params(shown) == torch_after(399)
        for back in range(1, TAIL_POINTS):  # the loop's last iterations were kept too
            runner.step_back()
            assert runner._run.silent_arrival and runner.state.iteration == 399 - back
        assert params(runner.wait(TIMEOUT)) == torch_after(399 - TAIL_POINTS + 1)
    finally:
        runner.close()


def test_pause_in_a_loop_that_ends_first_stops_after_it(make_lesson):
    lesson = make_lesson(["a = 0\nfor i in range(20000):\n    a += 1\nb = a\nc = b\n"])
    box, handler = pausing_at(19995, cell=0)
    runner = Runner(lesson, on_event=handler)
    box.append(runner)
    try:
        runner.run()
        state = runner.wait(TIMEOUT)
        assert state.status == "paused" and state.line == lesson.cells[0].line + 3  # `b = a`
        runner.step_back()  # moved by a free run: back to the loop's last iteration, kept
        assert runner._run.silent_arrival and runner.state.iteration == 19999
    finally:
        runner.close()


def test_goto_is_exact_for_points_kept_while_running_freely(sgd_lesson):
    lesson = sgd_lesson(1500)
    runner = Runner(lesson)
    try:
        runner.run()
        assert runner.wait(TIMEOUT).status == "done"
        kept = [k for k in runner._history if runner._history[k][0].line is not None]
        assert len(kept) >= TAIL_POINTS
        forward = Runner(lesson)
        for k in (kept[0], kept[len(kept) // 2], kept[-1]):
            runner.goto(k)
            shown = runner.state
            arrived = runner.wait(TIMEOUT)
            assert same_view(shown, arrived)
            forward.reset()
            forward.goto(k)
            assert same_view(forward.wait(TIMEOUT), arrived)
        forward.close()
    finally:
        runner.close()


def test_quick_step_backs_retarget_the_replay_under_way(make_lesson, sources, monkeypatch):
    monkeypatch.setattr(runner_mod, "HISTORY_SIZE", 0)  # every step back needs the replay
    # The replay's way sleeps 0.5 s in the setup, so the step backs below come before it
    # arrives (600 epochs alone replay in ~0.1-0.2 s: a stalled test thread could miss it).
    loop = sources.LOOP_SGD.replace("EPOCHS", "600").replace("lr=0.1", f"lr={LR}")
    lesson = make_lesson([sources.SETUP + "import time\ntime.sleep(0.5)\n", loop])
    runner = Runner(lesson)
    try:
        runner.run()
        assert runner.wait(TIMEOUT).status == "done"
        runner.step_back()
        replay = runner._run
        for _ in range(4):  # pressed before the replay arrives: it stops earlier instead
            runner.step_back()
        assert runner._run is replay
        state = runner.wait(TIMEOUT)
        assert (state.status, state.iteration) == ("paused", 595)
        assert runner._run.points == state.pause_index + 1
        assert params(state) == torch_after(595)
        runner.next()
        assert params(runner.wait(TIMEOUT)) == torch_after(596)
    finally:
        runner.close()
