"""Runner control: errors, cancel, determinism, replay, divergence, output capture."""

from __future__ import annotations

import math
import sys
import threading
import time

import pytest
import torch

from tutor.engine import events as ev
from tutor.engine import runner as runner_mod
from tutor.engine.runner import Runner

from tests.conftest import wait_until

TIMEOUT = 10


def by_name(tensors):
    return {t.name: t for t in tensors}


def in_lesson_code(thread: threading.Thread, path) -> bool:
    """The thread is executing the lesson file's own code (a frame of it is on its stack)."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_filename == str(path):
            return True
        frame = frame.f_back
    return False


def test_error_reports_the_lesson_line_and_the_runner_stays_usable(make_lesson):
    lesson = make_lesson(["x = 1\n", "def f(v):\n    return v / 0\n\ny = 2\nf(y)\n"])
    events: list = []
    runner = Runner(lesson, on_event=events.append)
    state = runner.run_to_end()
    cell = lesson.cells[1]
    assert state.status == "error"
    assert state.error.type == "ZeroDivisionError"
    assert state.error.message == "division by zero"
    assert state.error.line == cell.line + 1  # innermost frame in the lesson file
    assert state.error.cell == 1
    assert str(lesson.path) in state.error.traceback
    assert "runner.py" not in state.error.traceback  # starts at the lesson's own frames
    assert isinstance(events[-1], ev.Error) and events[-1].line == cell.line + 1
    runner.reset()
    runner.step()
    assert runner.wait(TIMEOUT).status == "paused"
    runner.close()


def test_a_failure_outside_lesson_code_is_an_error_not_a_run_left_running(make_lesson, monkeypatch):
    """The engine itself raising between two cells (here its cell-end hook) ends the
    run as an error at that cell, which `r` recovers from; before, the worker thread
    died and the state said `running` for ever."""
    lesson = make_lesson(["x = 1\n", "y = 2\n"])

    def broken(self) -> None:
        raise RuntimeError("engine bug")

    monkeypatch.setattr(runner_mod._Run, "cell_end_hook", broken)
    runner = Runner(lesson)
    try:
        runner.run()
        state = runner.wait(TIMEOUT)
        assert (state.status, state.error.type, state.error.message, state.error.cell) == (
            "error", "RuntimeError", "engine bug", 0)
        monkeypatch.undo()
        runner.reset()
        runner.run()
        assert runner.wait(TIMEOUT).status == "done"
    finally:
        runner.close()


def test_error_in_an_imported_library_points_at_the_lesson_line(make_lesson):
    lesson = make_lesson(["import torch\na = torch.zeros(2)\nb = torch.zeros(3)\nc = a + b\n"])
    state = Runner(lesson).run_to_end()
    assert state.error.type == "RuntimeError"
    assert state.error.line == lesson.cells[0].line + 3


def test_syntax_error_in_a_later_cell_runs_earlier_cells_first(make_lesson):
    lesson = make_lesson([("print('ok')\n", "ok"), "x = 1\ny = (\n"])
    state = Runner(lesson).run_to_end()
    assert state.outputs[0] == "ok\n"
    assert state.error.type == "SyntaxError"
    assert state.error.line == lesson.cells[1].line + 1
    assert state.error.cell == 1


def test_commands_after_an_error_do_nothing(make_lesson):
    runner = Runner(make_lesson(["raise ValueError('boom')\n"]))
    runner.run()
    state = runner.wait(TIMEOUT)
    assert state.status == "error" and state.error.message == "boom"
    runner.next()
    runner.step()
    assert runner.wait(TIMEOUT).status == "error"
    runner.close()


@pytest.mark.parametrize("source", [
    "while True:\n    pass\n",
    "def spin():\n    while True:\n        pass\nspin()\n",
    "def spin():\n    n = 0\n    while n >= 0:\n        n = (n + 1) % 7\nspin()\n",
], ids=["top-level", "in-function", "in-function-no-pass"])
def test_cancel_stops_an_infinite_loop_within_a_second(make_lesson, source):
    lesson = make_lesson([source])
    runner = Runner(lesson)
    runner.run()
    thread = runner._run.thread
    # inside the loop (the worker publishes "running" before the first cell): not a
    # fixed sleep, which a loaded machine could spend before the worker got there
    wait_until(lambda: in_lesson_code(thread, lesson.path), "the worker in the loop", TIMEOUT)
    assert thread.is_alive() and runner.state.status == "running"
    started = time.monotonic()
    runner.close()
    assert time.monotonic() - started < 1.0
    thread.join(0.5)
    assert not thread.is_alive()


def test_reset_during_free_run_goes_back_to_idle(make_lesson):
    runner = Runner(make_lesson(["i = 0\nwhile True:\n    i += 1\n"]))
    runner.run()
    wait_until(lambda: (runner.state.iteration or 0) > 0, "the free run's iterations", TIMEOUT)
    started = time.monotonic()
    runner.reset()
    assert time.monotonic() - started < 1.0
    assert runner.state.status == "idle" and runner.state.pause_index == -1
    runner.step()
    state = runner.wait(TIMEOUT)
    assert state.status == "paused" and state.pause_index == 0
    runner.close()


def test_pause_stops_a_free_run_a_few_iterations_later(make_lesson):
    runner = Runner(make_lesson(["i = 0\nwhile True:\n    i += 1\n"]))
    try:
        runner.run()
        # published while running (a free run publishes every PUBLISH_INTERVAL): waited
        # for, where a fixed sleep could end before the first publication under load
        wait_until(lambda: (runner.state.iteration or 0) > 0, "a state published while running", TIMEOUT)
        running = runner.state
        assert running.status == "running" and running.iteration > 0  # the loop never ends
        runner.pause()
        state = runner.wait(TIMEOUT)
        assert state.status == "paused"
        # at an iteration point, the ones before it kept for an instant step back
        assert runner.back_target() == state.pause_index - 1  # one point per iteration
        kept = [runner._history[state.pause_index - n][0].iteration for n in range(runner_mod.TAIL_POINTS)]
        assert kept == [state.iteration - n for n in range(runner_mod.TAIL_POINTS)]
        runner.step()
        after = runner.wait(TIMEOUT)
        assert after.pause_index == state.pause_index + 1
    finally:
        runner.close()


RANDOM_LESSON = [
    "import torch\nW = torch.randn(3, 2, requires_grad=True)\nx = torch.rand(4, 3)\n",
    "opt = torch.optim.SGD([W], lr=0.1)\nfor epoch in range(3):\n    cost = (x @ W).pow(2).mean()\n"
    "    opt.zero_grad()\n    cost.backward()\n    opt.step()\n    noise = torch.rand(1)\n",
]


def test_python_and_numpy_random_are_seeded_too(make_lesson):
    lesson = make_lesson(["import random\nimport numpy as np\nr = (random.random(), float(np.random.rand()))\nr\n"], seed=11)
    first = Runner(lesson).run_to_end().outputs[0]
    second = Runner(lesson).run_to_end().outputs[0]
    assert first == second
    import random

    import numpy as np

    random.seed(11)
    np.random.seed(11)
    assert first == repr((random.random(), float(np.random.rand()))) + "\n"


def test_two_runs_are_identical(make_lesson):
    lesson = make_lesson(RANDOM_LESSON, seed=3)
    first = Runner(lesson).run_to_end()
    second = Runner(lesson).run_to_end()
    assert first.costs == second.costs
    assert [(t.name, t.value, t.grad) for t in first.tensors] == [(t.name, t.value, t.grad) for t in second.tensors]
    torch.manual_seed(3)
    assert torch.allclose(torch.tensor(by_name(first.tensors)["x"].value),
                          (torch.randn(3, 2), torch.rand(4, 3))[1])


@pytest.mark.parametrize("history", [0, 512], ids=["replay-only", "with-history"])
def test_goto_replays_to_the_same_tensors_as_stepping_forward(make_lesson, monkeypatch, history):
    monkeypatch.setattr(runner_mod, "HISTORY_SIZE", history)
    lesson = make_lesson(RANDOM_LESSON, seed=5)
    runner = Runner(lesson)
    forward = []
    try:
        while True:
            runner.step()
            state = runner.wait(TIMEOUT)
            if state.status != "paused":
                break
            forward.append(state)
        assert len(forward) > 10
        for k in (len(forward) - 1, 7, 0, len(forward) - 2):
            runner.goto(k)
            assert runner.state.pause_index == k  # at once, before the replay arrives
            if history:  # shown from the history, the replay catches up behind it
                assert runner.state.status == "paused"
            replayed = runner.wait(TIMEOUT)
            assert runner._run.suspended and runner._run.points == k + 1  # the worker really is at k
            assert replayed.status == "paused"
            assert replayed.pause_index == k
            expected = forward[k]
            assert (replayed.cell, replayed.line, replayed.iteration) == (expected.cell, expected.line, expected.iteration)
            assert [(t.name, t.value, t.grad) for t in replayed.tensors] == [
                (t.name, t.value, t.grad) for t in expected.tensors
            ]
            assert replayed.costs == expected.costs
        # Step back from the end, then forward again.
        runner.goto(forward[-1].pause_index - 1)
        back = runner.wait(TIMEOUT)
        runner.step()
        again = runner.wait(TIMEOUT)
        assert again.pause_index == forward[-1].pause_index
        assert [t.value for t in again.tensors] == [t.value for t in forward[-1].tensors]
        assert back.pause_index == forward[-1].pause_index - 1
    finally:
        runner.close()


def test_replay_publishes_nothing_before_the_target_and_reports_no_events(make_lesson):
    lesson = make_lesson(["print('hello')\nfor i in range(5):\n    cost = float(i)\n"])
    events: list = []
    runner = Runner(lesson, on_event=events.append)
    seen = []
    try:
        runner.run()
        runner.wait(TIMEOUT)
        events.clear()
        watcher_stop = threading.Event()

        def watch():
            while not watcher_stop.is_set():
                seen.append(runner.state.pause_index)
                time.sleep(0.0005)

        watcher = threading.Thread(target=watch)
        watcher.start()
        runner.goto(6)
        state = runner.wait(TIMEOUT)
        watcher_stop.set()
        watcher.join()
    finally:
        runner.close()
    assert state.pause_index == 6 and state.outputs[0] == "hello\n"
    # Points: print, for, then one per iteration: point 6 starts iteration 4.
    assert state.iteration == 4
    assert [c.cost for c in state.costs] == [0.0, 1.0, 2.0, 3.0]  # recorded during the replay
    assert events == []
    assert set(seen) <= {-1, 6, state_done_index(lesson)}


def state_done_index(lesson):
    return Runner(lesson).run_to_end().pause_index


def test_non_finite_cost_stops_free_running_with_a_hint(make_lesson):
    lesson = make_lesson(["cost = 1.0\nfor i in range(50):\n    cost = cost * 1e100\n"])
    runner = Runner(lesson)
    try:
        runner.run()
        state = runner.wait(TIMEOUT)
    finally:
        runner.close()
    assert state.status == "paused"
    # The cost became inf in iteration 3 (1e400): the run pauses after the last finite
    # iteration (2), at the start of iteration 3 (issue 18's divergence pause).
    assert state.iteration == 3 and state.cost == 1e300
    assert state.divergence.kind == "nonfinite" and state.divergence.iteration == 3
    assert state.nonfinite is not None and state.nonfinite.critical_lr is None


def test_headless_run_does_not_stop_at_divergence(make_lesson):
    lesson = make_lesson(["cost = 1.0\nfor i in range(10):\n    cost = cost * 1e100\n"])
    state = Runner(lesson).run_to_end()
    assert state.status == "done" and len(state.costs) == 10 and state.nonfinite is not None


def test_output_is_captured_per_cell_not_printed(make_lesson, capsys):
    lesson = make_lesson([
        "print('a', 1, sep='-')\n",
        "import sys\nprint('b', end='')\nprint('err', file=sys.stderr)\nx = 5\nx\n",
        "None\n",
    ])
    state = Runner(lesson).run_to_end()
    assert state.outputs == {0: "a-1\n", 1: "b5\n", 2: ""}
    assert state.stderr == {1: "err\n"}  # the cell's too, kept apart (engine/streams.py)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_display_shows_each_object_as_jupyter_does_without_an_import(make_lesson):
    lesson = make_lesson(["import torch\nt = torch.tensor([1.0, 2.0])\ndisplay(t, 'text', None)\nprint('after')\n"])
    state = Runner(lesson).run_to_end()
    assert state.error is None
    assert state.outputs[0] == "tensor([1., 2.])\n'text'\nafter\n"


def test_clear_output_leaves_what_the_cell_prints_after_it(make_lesson):
    """Jupyter's clear_output() (a lesson builtin): the output so far, stderr too, is
    gone; an earlier cell keeps its own."""
    lesson = make_lesson(["print('kept')\n", "import sys\nfor i in range(3):\n    clear_output(wait=True)\n"
                          "    print('epoch', i)\n    _ = sys.stderr.write('note\\n')\nclear_output()\nprint('last')\n"])
    state = Runner(lesson).run_to_end()
    assert state.error is None
    assert state.outputs == {0: "kept\n", 1: "last\n"} and state.stderr == {}


def test_output_per_cell_is_capped(make_lesson, monkeypatch):
    monkeypatch.setattr(runner_mod, "OUTPUT_CAP", 1000)
    lesson = make_lesson(["for i in range(3000):\n    print(i)\n"])
    events: list = []
    state = Runner(lesson, on_event=events.append).run_to_end()
    text = state.outputs[0]
    assert state.output_truncated
    assert text.endswith("2998\n2999\n")  # the tail, and only the output: the UI says it is cut
    assert len(text) <= 1000 and text.split("\n")[0].isdigit()  # lesson output only, no note
    assert "".join(e.text for e in events if isinstance(e, ev.Output)) == "".join(f"{i}\n" for i in range(3000))


def test_events_come_in_order(make_lesson):
    lesson = make_lesson(["print('x')\n", "cost = 0.0\nfor i in range(2):\n    cost += 1\n"])
    events: list = []
    Runner(lesson, on_event=events.append).run_to_end()
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["CellStarted", "Output", "CellStarted", "Iteration", "Iteration", "Done"]
    assert events[0] == ev.CellStarted(cell=0, line=lesson.cells[0].line)
    assert [e.cost for e in events if isinstance(e, ev.Iteration)] == [1.0, 2.0]
    assert events[3].tensors is None  # only with record_every_iteration


def test_cost_variable_from_front_matter_and_loss_fallback(make_lesson):
    loss = make_lesson(["import torch\nfor i in range(2):\n    loss = torch.tensor(float(i))\n"])
    assert [c.cost for c in Runner(loss).run_to_end().costs] == [0.0, 1.0]
    named = make_lesson(["err = 0.0\ncost = 9.0\nfor i in range(2):\n    err = i * 2.0\n"], cost="err")
    assert [c.cost for c in Runner(named).run_to_end().costs] == [0.0, 2.0]


def test_break_and_continue_record_each_iteration_once(make_lesson):
    lesson = make_lesson(["for i in range(10):\n    cost = float(i)\n    if i % 2:\n        continue\n    if i == 4:\n        break\n"])
    state = Runner(lesson).run_to_end()
    assert [(c.iteration, c.cost) for c in state.costs] == [(i, float(i)) for i in range(5)]
    assert [c.step for c in state.costs] == list(range(5))


def test_history_is_kept_before_an_lr_change(make_lesson):
    lesson = make_lesson(["import torch\nlr = 0.5\nW = torch.ones(1)\nfor i in range(5):\n    W = W - lr\n"])
    runner = Runner(lesson)
    try:
        for _ in range(7):
            runner.step()
            runner.wait(TIMEOUT)
        before = runner.state
        runner.set_lr(0.25)
        assert runner._history and max(runner._history) <= before.pause_index
        runner.goto(before.pause_index - 1)
        state = runner.wait(TIMEOUT)
        assert state.pause_index == before.pause_index - 1
        assert state.lr_override is None  # the change came later, at before.pause_index
    finally:
        runner.close()
    assert state.iteration == 1
    W = 1.0
    for _ in range(state.iteration):  # the replay follows the schedule: 0.5 before the change
        W -= 0.5
    assert by_name(state.tensors)["W"].value == [W]


def test_history_is_bounded_by_its_size(make_lesson, monkeypatch):
    monkeypatch.setattr(runner_mod, "HISTORY_BUDGET", 1000)
    lesson = make_lesson(["for i in range(30):\n    print('x' * 9)\n"])
    runner = Runner(lesson)
    try:
        for _ in range(25):
            runner.step()
            assert runner.wait(TIMEOUT).status == "paused"
        assert 2 < len(runner._history) < 10  # each state holds ~200 characters by now
        assert runner._history_size <= 1000
        kept = sorted(runner._history)
        assert kept == list(range(kept[0], kept[-1] + 1))  # the most recent ones
        assert kept[-1] == runner.state.pause_index
    finally:
        runner.close()


def test_history_shares_cost_points_and_counts_tensors(make_lesson, monkeypatch):
    runner = Runner(make_lesson(["for i in range(200):\n    cost = float(i)\n"]))
    forward = {}
    try:
        for _ in range(60):
            runner.next()
            state = runner.wait(TIMEOUT)
            forward[state.pause_index] = state
        # each kept state refers to the run's cost list, so 60 of them fit a small budget
        assert set(forward) <= set(runner._history)
        assert all(kept[0].costs == () for kept in runner._history.values())
        for k in (min(forward), max(forward) - 7):
            runner.goto(k)
            assert runner.state.costs == forward[k].costs and len(forward[k].costs) == forward[k].iteration
            runner.wait(TIMEOUT)
    finally:
        runner.close()
    # tensor views count: 64 changing numbers (value and delta) are about 4 KB a state
    monkeypatch.setattr(runner_mod, "HISTORY_BUDGET", 20_000)
    runner = Runner(make_lesson(["import torch\nW = torch.zeros(64)\nfor i in range(50):\n    W = W + 1\n"]))
    try:
        for _ in range(20):
            runner.next()
            runner.wait(TIMEOUT)
        assert 2 < len(runner._history) < 8
        assert runner._history_size <= 20_000
    finally:
        runner.close()


def test_input_is_refused(make_lesson):
    state = Runner(make_lesson(["name = input('?')\n"])).run_to_end()
    assert state.error.type == "RuntimeError" and "input()" in state.error.message


def test_step_back_to_before_an_error_and_past_the_end(make_lesson):
    lesson = make_lesson(["a = 1\nb = 2\nc = a / 0\n"])
    events: list = []
    runner = Runner(lesson, on_event=events.append)
    try:
        runner.run()
        error = runner.wait(TIMEOUT)
        assert error.status == "error" and error.pause_index == 3
        runner.step_back()
        back = runner.wait(TIMEOUT)
        assert (back.status, back.pause_index, back.line) == ("paused", 2, lesson.cells[0].line + 2)
        assert back.error is None
        reported = len(events)
        runner.goto(10)  # beyond the end: replays into the same error, reported once only
        again = runner.wait(TIMEOUT)
        assert again.status == "error" and again.error.line == error.error.line
        assert len(events) == reported
        runner.reset()
        runner.step_back()  # idle: nothing to go back to
        assert runner.state.status == "idle"
    finally:
        runner.close()


def test_free_run_snapshots_only_when_publishing(make_lesson, monkeypatch):
    from tutor.engine import snapshot

    calls = []
    original = snapshot.Snapshotter.take
    monkeypatch.setattr(snapshot.Snapshotter, "take", lambda self, ns, remember=True: calls.append(1) or original(self, ns, remember))
    lesson = make_lesson(["import torch\nW = torch.zeros(3)\nfor i in range(3000):\n    W = W + 1\n    cost = W.sum()\n"])
    runner = Runner(lesson)
    try:
        runner.run()
        started = time.monotonic()
        state = runner.wait(TIMEOUT)
        elapsed = time.monotonic() - started
    finally:
        runner.close()
    assert state.status == "done" and len(state.costs) == 3000
    assert by_name(state.tensors)["W"].value == [3000.0] * 3
    # one per publication, plus the loop's last TAIL_POINTS iterations kept for step back
    assert len(calls) <= elapsed / runner_mod.PUBLISH_INTERVAL + 3 + runner_mod.TAIL_POINTS


def test_a_failing_event_consumer_stops_the_headless_run(make_lesson):
    def consumer(event):
        if isinstance(event, ev.Output):
            raise BrokenPipeError("reader gone")

    lesson = make_lesson(["print('a')\nprint('b')\n"])
    with pytest.raises(BrokenPipeError):
        Runner(lesson, on_event=consumer).run_to_end()


def test_quick_step_backs_count_from_the_replay_target(make_lesson, monkeypatch):
    monkeypatch.setattr(runner_mod, "HISTORY_SIZE", 0)
    lesson = make_lesson(["a = 0\nfor i in range(5):\n    a += 1\n    a *= 2\n"])
    runner = Runner(lesson)
    try:
        for _ in range(8):
            runner.step()
            runner.wait(TIMEOUT)
        at = runner.state.pause_index
        runner.step_back()
        runner.step_back()  # before the first replay arrived, or after: either way k - 2
        state = runner.wait(TIMEOUT)
        assert state.status == "paused" and state.pause_index == at - 2
    finally:
        runner.close()
