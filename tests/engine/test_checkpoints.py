"""Checkpoints: goto(k) from a paused copy of the kernel is exact.

The kernel forks checkpoints at cell ends and spaced iteration points; goto(k)
resumes from the nearest one <= k. What it shows must be what stepping forward to k
shows (values, grads, costs, outputs), and what plain torch computes.
"""

from __future__ import annotations

import os
import time

import pytest

from tutor.engine.kernel.checkpoints import MAX_CHECKPOINTS
from tutor.engine.kernel.client import KernelClient
from tutor.engine.runner import Runner

from tests.conftest import process_gone, wait_until
from tests.engine.conftest import plain_fit

TIMEOUT = 30


def _fit(sources, epochs: int, *more: str) -> list[str]:
    """The fixture's gradient descent with lr 0.01 (0.1 diverges over hundreds of epochs)."""
    return [sources.SETUP.replace("lr = 0.1", "lr = 0.01"),
            sources.LOOP_LR.replace("EPOCHS", str(epochs)), *more]


def _filling_run(client, lesson):
    """A kernel with checkpoints at cell ends only (every 10**9 points: a loop is one
    span) that fills, run to the end: (client, its done state)."""
    remote = client(lesson, checkpoints={"every": 10**9, "fill": True})
    remote.run()
    done = remote.wait(TIMEOUT)
    assert done.status == "done"
    return remote, done


def _schedule(epochs: int):
    """Plain torch with lr 0.01 for the first 40 epochs, then 0.005: W, b, costs, lrs."""
    fit = plain_fit(epochs, {0: 0.01, 40: 0.005})
    return fit.W, fit.b, fit.costs, fit.lrs


def _views(state):
    return {v.name: (v.value, v.grad) for v in state.tensors}


def _wait_checkpoints(remote, at_least: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while len(remote.checkpoints) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)


def test_goto_from_a_checkpoint_equals_stepping_forward_and_plain_torch(make_lesson, sources, client):
    lesson = make_lesson(_fit(sources, 300, "print('end', float(cost))"))
    remote = client(lesson, checkpoints={"every": 25})
    for _ in range(2 + 60):  # cell 0, into the loop, then 60 epochs, one n at a time
        remote.next()
        remote.wait(TIMEOUT)
    forward = remote.state
    assert forward.iteration == 60
    remote.run()
    done = remote.wait(TIMEOUT)
    assert done.status == "done"
    _wait_checkpoints(remote, 4)
    points = remote.checkpoints
    assert any(0 < p < forward.pause_index for p in points)
    remote.goto(forward.pause_index)
    back = remote.wait(TIMEOUT)
    assert (back.status, back.pause_index, back.iteration, back.line) == (
        "paused", forward.pause_index, 60, forward.line)
    assert _views(back) == _views(forward)
    assert back.costs == forward.costs and back.outputs == forward.outputs
    fit = plain_fit(60, 0.01)
    W, b, costs = fit.W, fit.b, fit.costs
    assert [p.cost for p in back.costs] == costs
    assert _views(back)["W"][0] == W.detach().tolist()
    assert _views(back)["b"][1] == b.grad.tolist()
    # and it goes on from there exactly
    remote.run()
    again = remote.wait(TIMEOUT)
    assert again.costs == done.costs and again.outputs == done.outputs
    assert _views(again) == _views(done)


def test_a_checkpoint_stays_usable_and_a_lost_one_falls_back(make_lesson, sources, client, kernel_host):
    lesson = make_lesson(_fit(sources, 150))
    remote = client(lesson, checkpoints={"every": 200})
    remote.run()
    done = remote.wait(TIMEOUT)
    _wait_checkpoints(remote, 4)
    target = done.pause_index - 100
    remote.goto(target)
    first = remote.wait(TIMEOUT)
    remote.run()
    remote.wait(TIMEOUT)
    remote.goto(target)  # from the same checkpoint again
    second = remote.wait(TIMEOUT)
    assert _views(first) == _views(second) and first.costs == second.costs
    for checkpoint in list(remote._checkpoints):  # they all die: replay from the start
        kernel_host.kill(checkpoint.pid)
    # the client has seen each one go (its connection closed), rather than a fixed
    # sleep that a loaded machine could end before that
    deadline = time.monotonic() + TIMEOUT
    while remote.checkpoints and time.monotonic() < deadline:
        time.sleep(0.02)
    assert remote.checkpoints == ()
    remote.goto(target - 10)
    third = remote.wait(TIMEOUT)
    assert third.status == "paused" and third.pause_index == target - 10
    assert third.costs == first.costs[: len(third.costs)]


def test_a_long_run_keeps_a_bounded_number_of_checkpoints(make_lesson, sources, client):
    lesson = make_lesson(_fit(sources, 100))
    remote = client(lesson, checkpoints={"every": 10, "keep": 4})  # 11 made, 4 kept
    remote.run()
    assert remote.wait(60).status == "done"
    _wait_checkpoints(remote, 4)
    time.sleep(0.5)
    points = remote.checkpoints
    assert len(points) == 4
    assert list(points) == sorted(points)


def test_thinning_drops_the_checkpoint_between_the_closest_neighbours(kernel_host, make_lesson, sources):
    from tutor.engine.kernel import client as client_module

    remote = KernelClient(kernel_host, make_lesson(_fit(sources, 1)), checkpoints=False)
    try:
        killed = []
        remote.host = type("Host", (), {"kill": staticmethod(killed.append)})()
        elapsed = [0.0, 1.0, 1.1, 1.2, 5.0] + [10.0 + i for i in range(MAX_CHECKPOINTS - 4)]
        remote._checkpoints = [
            client_module._Checkpoint(i, 1000 + i, _Closed(), {"elapsed": e}) for i, e in enumerate(elapsed)
        ]
        remote._thin()
        assert len(remote.checkpoints) == MAX_CHECKPOINTS
        assert killed == [1002]  # 1.1 sat between 1.0 and 1.2: the smallest gap lost
        assert remote.checkpoints[0] == 0 and remote.checkpoints[-1] == len(elapsed) - 1
    finally:
        remote.host = kernel_host
        remote.close()


class _Closed:
    def close(self) -> None:
        pass


def test_step_back_across_an_lr_change_equals_plain_torch_with_that_schedule(make_lesson, sources, client):
    lesson = make_lesson(_fit(sources, 100))
    remote = client(lesson, checkpoints={"every": 10})
    for _ in range(2 + 40):  # to iteration 40
        remote.next()
        remote.wait(TIMEOUT)
    assert remote.state.iteration == 40
    remote.set_lr(0.005)  # from iteration 40 on
    remote.run()
    done = remote.wait(TIMEOUT)
    W, b, costs, lrs = _schedule(100)
    assert [p.cost for p in done.costs] == costs and [p.lr for p in done.costs] == lrs
    _wait_checkpoints(remote, 8)
    for iteration in (70, 25):  # after the change, then before it: both from checkpoints
        remote.jump(iteration)
        state = remote.wait(TIMEOUT)
        assert (state.status, state.iteration) == ("paused", iteration)
        W, b, costs, lrs = _schedule(iteration)
        assert [p.cost for p in state.costs] == costs and [p.lr for p in state.costs] == lrs
        assert _views(state)["W"][0] == W.detach().tolist()
        assert _views(state)["b"][1] == b.grad.tolist()
    assert remote.lr_schedule[-1][1] == 0.005  # the lr change is kept in the schedule
    remote.run()  # and forward again across the change, to the same end
    again = remote.wait(TIMEOUT)
    assert again.costs == done.costs


@pytest.mark.parametrize("kept", [False, True], ids=["replayed", "kept-in-history"])
def test_changed_since_after_a_checkpoint_goto_counts_from_what_the_learner_saw(make_lesson, sources, client, kept):
    """A goto served by a checkpoint shows the same "changed since" as a goto in one
    process: the change from the state the learner saw before going back (the killed
    kernel's), not from the checkpoint's own last pause. A big tensor (statistics only
    in the states) counts as changed by its statistics. When the target was kept in
    the old kernel's history (stepped to with `n`), the state shown there stays."""
    cells = _fit(sources, 300) + ["big = big + 1\nsame = same * 1"]
    cells.insert(1, "big = torch.zeros(100)\nsame = torch.ones(100)")
    lesson = make_lesson(cells)

    def changes(state):
        return {v.name: (v.changed, v.grad_changed, v.delta) for v in state.tensors}

    local = Runner(lesson)
    remote = client(lesson, checkpoints={"every": 25})
    try:
        for runner in (local, remote):
            if kept:
                for _ in range(3 + 60):  # cells 0 and 1, into the loop, then 60 epochs
                    runner.next()
                    runner.wait(TIMEOUT)
            else:
                runner.run()
                assert runner.wait(TIMEOUT).status == "done"
                runner.jump(60)
            assert runner.wait(TIMEOUT).iteration == 60
        # replayed: a statement point inside iteration 60, never kept in a history (only
        # iteration points and cell ends are); kept: the iteration point stepped to
        target = remote.state.pause_index + (0 if kept else 1)
        assert local.state.pause_index == remote.state.pause_index
        for runner in (local, remote):
            runner.run()
            assert runner.wait(TIMEOUT).status == "done"
        _wait_checkpoints(remote, 4)
        assert any(0 < p < target for p in remote.checkpoints)
        for runner in (local, remote):
            runner.goto(target)
        here, there = local.wait(TIMEOUT), remote.wait(TIMEOUT)
        assert there.pause_index == here.pause_index == target
        assert changes(there) == changes(here)
        shown = changes(there)
        if not kept:  # from the end: by their statistics, and W at 60 minus W at the end
            assert shown["big"][0] is True and shown["same"][0] is False
            assert shown["W"][0] is True and shown["W"][2] is not None
    finally:
        local.close()


def test_a_settled_kernel_fills_the_span_behind_it_and_a_goto_there_is_exact(
        make_lesson, sources, client, monkeypatch):
    # Checkpoints at cell ends only (every 10**9 points), so the 1000-epoch loop is one
    # span; filling splits it while the kernel waits for the learner. (A span is filled
    # when it is over twice FILL_SPACING of CPU: 1000 epochs take 0.1-0.17 s here, so
    # the spacing is made small enough for any machine.)
    from tutor.engine.kernel import client as client_module

    monkeypatch.setattr(client_module, "FILL_SPACING", 0.01)
    lesson = make_lesson(_fit(sources, 1000))
    remote, done = _filling_run(client, lesson)
    wait_until(lambda: remote._fill_span is None and remote._filled, "a fill done")

    def inside_the_loop() -> list[int]:
        points = remote.checkpoints
        return [p for p in points if points[0] < p < points[-1]]

    # checkpoints inside the loop, made by the filler (each connects on its own: the
    # filler may have ended before they did, and the first of them may be all there is yet)
    inside = wait_until(inside_the_loop, "a filled checkpoint connected")
    # a goto just past one of them resumes from it (however little replay that saves,
    # so that it does not depend on how many have connected) and is exact
    remote._resume_cost = 0.0
    target = inside[len(inside) // 2] + 3
    remote.goto(target)
    back = remote.wait(TIMEOUT)
    assert remote._current.source is not None and remote._current.source.point in inside
    assert (back.status, back.pause_index) == ("paused", target)
    assert [p.cost for p in back.costs] == plain_fit(back.iteration, 0.01).costs
    local = Runner(lesson)  # the same point reached in one process, from the start
    try:
        local.goto(target)
        here = local.wait(TIMEOUT)
    finally:
        local.close()
    assert _views(back) == _views(here) and back.costs == here.costs and back.line == here.line
    # a kernel resumed from a filler's checkpoint runs on as any kernel (it does not
    # end where the filler did) and makes its own checkpoints
    remote.run()
    again = remote.wait(TIMEOUT)
    assert again.status == "done" and again.costs == done.costs
    assert _views(again) == _views(done)


def test_a_command_stops_the_filler_at_once(make_lesson, sources, client, kernel_host):
    lesson = make_lesson(_fit(sources, 3000))
    remote, _ = _filling_run(client, lesson)
    pid = wait_until(lambda: remote._filler if remote._filler not in (None, -1) else None, "a filler")
    remote.goto(remote.checkpoints[0] + 5)  # any command
    assert remote._filler is None
    # SIGKILLed (a filler that arrived would have ended with status 0)
    assert os.WIFSIGNALED(kernel_host.exit_status(pid, TIMEOUT)) and process_gone(pid)
    assert remote.wait(TIMEOUT).status == "paused"


def test_a_filler_ends_with_its_checkpoint(make_lesson, sources, client, kernel_host, monkeypatch):
    """Its checkpoint ends with the app (the lifeline); the filler, busy in lesson code,
    has its parent's death as a SIGKILL (PR_SET_PDEATHSIG): no process outlives the app.
    The loop sleeps in its last epochs once the file `slow` exists: the free run does
    not, the filler replaying it (asked for only after the test made the file) does."""
    from tutor.engine.kernel import client as client_module

    monkeypatch.setattr(client_module, "FILL_SPACING", 0.005)
    loop = sources.LOOP_LR.replace("EPOCHS", "300").replace(
        "    cost.backward()\n",
        "    cost.backward()\n    if epoch == 290 and os.path.exists('slow'):\n        time.sleep(30)\n")
    lesson = make_lesson([sources.SETUP.replace("lr = 0.1", "lr = 0.01") + "import os, time\n", loop])
    remote = client(lesson, checkpoints={"every": 10**9, "fill": True})
    remote._fills = False
    remote.run()
    assert remote.wait(TIMEOUT).status == "done"
    _wait_checkpoints(remote, 1)  # the end of cell 0 (the loop's end is where the run is)
    (lesson.path.parent / "slow").write_text("")
    with remote._lock:
        remote._fills = True
        remote._maybe_fill()
    pid = wait_until(lambda: remote._filler if remote._filler not in (None, -1) else None, "a filler")
    source = remote._fill_source
    time.sleep(0.3)  # it replays into the sleep
    kernel_host.kill(source.pid)
    started = time.monotonic()
    wait_until(lambda: process_gone(pid), "the filler gone")
    assert time.monotonic() - started < 2.0


def test_filling_goes_on_after_its_checkpoint_is_lost(make_lesson, sources, client, kernel_host):
    """A checkpoint killed while its filler runs (dropped by thinning, or gone) takes the
    filler with it; the client gives that span up rather than wait for a filler that
    will never report (which stopped all filling)."""
    lesson = make_lesson(_fit(sources, 3000))
    remote, _ = _filling_run(client, lesson)
    wait_until(lambda: remote._filler not in (None, -1), "a filler")
    lost = remote._fill_source
    kernel_host.kill(lost.pid)
    wait_until(lambda: remote._fill_source is not lost, "the lost checkpoint's fill given up")
    assert lost.point not in remote.checkpoints


def test_a_small_fill_budget_is_spread_over_the_whole_span(make_lesson, sources, client, monkeypatch):
    """Two checkpoints left to make for a span of 3000 epochs (hundreds of ms of CPU):
    evenly over it, so the later half, nearest the learner, has one too (at the
    50 ms spacing they would both sit in its first third). Evenly by pause points:
    spaced by the free run's CPU time, they landed at 0.31-0.55 and 0.61-0.98 of it."""
    from tutor.engine.kernel import client as client_module

    monkeypatch.setattr(client_module, "FILL_UP_TO", 3)
    lesson = make_lesson(_fit(sources, 3000))
    remote, done = _filling_run(client, lesson)
    wait_until(lambda: remote._fill_span is None and remote._filled, "the fill done")
    wait_until(lambda: len(remote.checkpoints) == 3, "both filled checkpoints connected")
    start, *filled = remote.checkpoints
    third = (done.pause_index - start) / 3
    # at the first iteration point (every 9 points) past each third
    assert [round((p - start) / third, 2) for p in filled] == [1.0, 2.0], (start, filled, done.pause_index)


def _graph(state):
    g = state.backward
    return None if g is None else (g.number, g.cell, g.line, g.iteration, [(n.op, n.name, n.value, n.grad) for n in g.nodes])


@pytest.mark.parametrize("statement", [False, True])
def test_a_goto_through_a_checkpoint_shows_the_backward_graph_stepping_shows(make_lesson, sources, client, statement):
    """The resumed replay captures only the last backward() before its target, which the
    old kernel names (Runner.last_backward_before); at an iteration point and at a
    statement point before the iteration's backward(), the graph shown is the one
    stepping there shows."""
    lesson = make_lesson(_fit(sources, 150))
    remote = client(lesson, checkpoints={"every": 100})
    remote.run()
    assert remote.wait(TIMEOUT).status == "done"
    _wait_checkpoints(remote, 3)
    local = Runner(lesson)
    try:
        local.run()
        local.wait(TIMEOUT)
        target = local._stops[len(local._stops) // 2] + (2 if statement else 0)
        assert local.last_backward_before(target) not in (None, -1)
        local.goto(target)
        here = local.wait(TIMEOUT)
    finally:
        local.close()
    # through a checkpoint however little replay it saves (150 epochs are a short
    # run: on a quick machine a plain replay was judged cheaper, and it went round)
    remote._resume_cost = 0.0
    remote.goto(target)
    back = remote.wait(TIMEOUT)
    assert remote._current.source is not None  # through a checkpoint
    assert back.pause_index == target and _graph(back) is not None
    assert _graph(back) == _graph(here) and _views(back) == _views(here)


def test_last_backward_before_is_known_only_where_the_run_has_been(make_lesson, sources):
    lesson = make_lesson(_fit(sources, 5))
    runner = Runner(lesson)
    try:
        runner.next()
        runner.wait(TIMEOUT)
        assert runner.last_backward_before(3) == -1  # cell 0 passed: no backward() in it
        for _ in range(3):
            runner.next()
            runner.wait(TIMEOUT)
        far = runner._stops[-1]
        assert runner.last_backward_before(far + 1000) is None  # not passed yet
        points = list(runner._backward_points)
        assert len(points) == 2  # two iterations done
        assert runner.last_backward_before(points[1]) == points[1]
        assert runner.last_backward_before(points[1] - 1) == points[0]
    finally:
        runner.close()
