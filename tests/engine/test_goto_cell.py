"""Runner.goto_cell: the start of a cell by the engine's own cell numbering, reached
from where the run is (forward) or by a replay (backward), checked against plain torch."""

from __future__ import annotations

import time

from tutor.engine.runner import Runner

from tests.engine.conftest import plain_fit

TIMEOUT = 10
EPOCHS = 4


def plain_w(epochs: int, lr: float = 0.1) -> float:
    """The fixture's W[0] after `epochs` steps, computed by plain torch."""
    return plain_fit(epochs, lr).W[0, 0].item()


def lesson_of(make_lesson, sources, setup_extra: str = ""):
    return make_lesson([sources.SETUP + setup_extra, sources.LOOP_LR.replace("EPOCHS", str(EPOCHS)),
                        "print(round(W[0, 0].item(), 6))\n"])


def w_of(state):
    return next(v for v in state.tensors if v.name == "W").value[0][0]


def test_forward_from_idle_stops_at_the_end_of_the_cell_before(make_lesson, sources):
    # The way there sleeps 0.5 s, so "at once" cannot race the arrival (4 epochs alone
    # took less than the time between the call and the check on a fast CI machine).
    runner = Runner(lesson_of(make_lesson, sources, "import time\ntime.sleep(0.5)\n"))
    started = time.perf_counter()
    runner.goto_cell(2)
    assert time.perf_counter() - started < 0.25  # the call does not wait for the way there
    assert runner.state.status == "running"  # at once: the way there is under way
    state = runner.wait(TIMEOUT)
    assert state.status == "paused" and state.cell == 1 and state.line is None
    assert state.cells_done == (0, 1) and len(state.costs) == EPOCHS
    assert abs(w_of(state) - plain_w(EPOCHS)) < 1e-6
    runner.next()  # the next step runs cell 2
    state = runner.wait(TIMEOUT)
    assert state.outputs[2] == f"{round(plain_w(EPOCHS), 6)}\n"
    runner.close()


def test_forward_goes_on_from_inside_the_loop_without_a_replay(make_lesson, sources):
    runner = Runner(lesson_of(make_lesson, sources))
    for _ in range(3):
        runner.next()
        runner.wait(TIMEOUT)
    run = runner._run
    assert runner.state.cell == 1 and runner.state.iteration == 1
    runner.goto_cell(2)
    state = runner.wait(TIMEOUT)
    assert runner._run is run  # the same run went on
    assert state.cell == 1 and state.line is None and state.cells_done == (0, 1)
    assert abs(w_of(state) - plain_w(EPOCHS)) < 1e-6
    runner.close()


def test_backward_replays_to_an_earlier_cell(make_lesson, sources):
    runner = Runner(lesson_of(make_lesson, sources))
    runner.run()
    assert runner.wait(TIMEOUT).status == "done"
    runner.goto_cell(1)
    state = runner.wait(TIMEOUT)
    assert state.status == "paused" and state.cell == 0 and state.line is None
    assert state.cells_done == (0,) and not state.costs
    assert w_of(state) == 0.0
    runner.goto_cell(0)  # nothing runs before the first cell: back to idle
    assert runner.state.status == "idle"
    runner.close()


def test_a_key_given_on_the_way_waits_for_the_arrival(make_lesson, sources):
    # The way there sleeps 0.5 s, so next() surely comes during it (4 epochs alone could
    # arrive first on a fast machine, and then next() is just a step from the pause).
    runner = Runner(lesson_of(make_lesson, sources, "import time\ntime.sleep(0.5)\n"))
    started = time.perf_counter()
    runner.goto_cell(2)
    runner.next()  # given during the way there: one step from the arrival
    assert time.perf_counter() - started < 0.25 and runner._run.replaying  # still on the way
    state = runner.wait(TIMEOUT)
    assert state.cells_done == (0, 1, 2)
    runner.close()


def test_already_there_changes_nothing(make_lesson, sources):
    runner = Runner(lesson_of(make_lesson, sources))
    runner.goto_cell(2)
    state = runner.wait(TIMEOUT)
    runner.goto_cell(2)
    assert runner.state is state
    runner.close()


def test_going_back_before_an_lr_change_shows_the_lr_in_force_there(make_lesson, sources):
    runner = Runner(lesson_of(make_lesson, sources))
    runner.goto_cell(2)
    runner.wait(TIMEOUT)
    runner.set_lr(0.05)  # from the end of cell 1 on
    runner.next()
    assert runner.wait(TIMEOUT).lr_override == 0.05
    runner.goto_cell(1)  # before the change: the lesson's own lr again
    state = runner.wait(TIMEOUT)
    assert state.cell == 0 and state.lr_override is None
    runner.goto_cell(2)  # and forward again across it: the schedule is followed
    state = runner.wait(TIMEOUT)
    assert state.lr_override == 0.05 and abs(w_of(state) - plain_w(EPOCHS)) < 1e-6
    runner.close()
