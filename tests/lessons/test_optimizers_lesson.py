"""Lesson 11 (optimizers): the numbers its prose quotes are what the step line and
the inspector show, and those are plain torch's.

The prose tells the learner what to read: SGD's first update, momentum's second
(buffer and W), Adam's first step of lr for both parameters, RAdam's first jump.
Each is checked here on the lesson's own runner against plain torch running the
same statements, and against the text the UI writes (`update_lines`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tutor.engine.loader import load_lesson
from tutor.engine.runner import Runner
from tutor.ui.widgets.update_view import update_lines

LESSON = Path(__file__).resolve().parents[2] / "lessons" / "11-optimizers.md"


@pytest.fixture(scope="module")
def lesson():
    return load_lesson(LESSON)


def loop_cells(lesson):
    return [c for c in lesson.runnable_cells if "for epoch" in c.source]


def at_iteration(lesson, loop: int, k: int):
    """The state at iteration point k of the lesson's `loop`-th training loop."""
    cell = loop_cells(lesson)[loop]
    runner = Runner(lesson)
    try:
        runner.goto_cell(cell.index)
        runner.wait(30)
        for _ in range(k + 1):
            runner.next()
            state = runner.wait(30)
        assert state.cell == cell.index and state.iteration == k
        runner.inspect("W")
        return runner.state
    finally:
        runner.close()


def plain(make, steps: int):
    x = torch.FloatTensor([[1], [2], [3]])
    y = torch.FloatTensor([[2], [4], [6]])
    W = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = make([W, b])
    for _ in range(steps):
        cost = torch.mean((x * W + b - y) ** 2)
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
    return W.detach(), b.detach(), optimizer


def prose(lesson, lang="en") -> str:
    return "\n".join(section.prose.get(lang) for section in lesson.sections)


def test_sgd_first_update_as_the_prose_says(lesson):
    state = at_iteration(lesson, 0, 1)
    W_update = next(u for u in state.updates if u.name == "W")
    line = update_lines(W_update)[0]
    assert line == "W := 0.000 − 0.05 × (−18.67) = 0.9333"
    assert line in prose(lesson) and line in prose(lesson, "ko")
    W, b, _ = plain(lambda p: torch.optim.SGD(p, lr=0.05), 1)
    assert W_update.after == (float(W),)
    b_update = next(u for u in state.updates if u.name == "b")
    assert b_update.after == (float(b),) == pytest.approx((0.4,))


def test_momentum_second_update_and_buffer(lesson):
    state = at_iteration(lesson, 1, 2)
    # the SGD section's W and b (other tensors, no longer named) are not shown
    assert [u.name for u in state.updates] == ["W", "b"]
    assert all(u.rule == "momentum" for u in state.updates)
    u = next(u for u in state.updates if u.name == "W")
    main, details = update_lines(u)
    assert main == "W := 0.9333 − 0.05 × (−25.16) = 2.191"
    assert details == ["buf := 0.9 × (−18.67) + (−8.356) = −25.16"]
    for text in (main, details[0]):
        assert text in prose(lesson) and text in prose(lesson, "ko")
    W, _, opt = plain(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), 2)
    buf = opt.state[opt.param_groups[0]["params"][0]]["momentum_buffer"]
    assert u.after == (float(W),) and u.term("buf") == (float(buf),)
    (shown,) = state.inspected.state
    assert shown.name == "momentum_buffer" and shown.value == buf.tolist()


def test_adam_first_step_is_lr_for_both(lesson):
    state = at_iteration(lesson, 2, 1)
    W, b, _ = plain(lambda p: torch.optim.Adam(p, lr=0.1), 1)
    for u, value in zip(sorted(state.updates, key=lambda u: u.name), (float(W), float(b))):
        assert u.rule == "adam" and u.after == (value,) == pytest.approx((0.1,), rel=1e-5)
    assert {s.name for s in state.inspected.state} == {"step", "exp_avg", "exp_avg_sq"}


def test_radam_first_jump(lesson):
    state = at_iteration(lesson, 4, 1)
    u = next(u for u in state.updates if u.name == "W")
    W, _, _ = plain(lambda p: torch.optim.RAdam(p, lr=0.1), 1)
    assert u.rule == "generic" and u.optimizer == "RAdam"
    assert u.after == (float(W),) == pytest.approx((1.8667,), rel=1e-4)
    line = update_lines(u)[0]
    assert line == "W := 0.000 − (−1.867) = 1.867"
    hints = [h.get(lang) for section in lesson.sections for h in section.hints for lang in ("en", "ko")]
    assert sum(line in h for h in hints) == 2  # the hint that answers the prediction, in both languages


def test_adamp_is_named_as_not_shipped(lesson):
    for lang in ("en", "ko"):
        text = prose(lesson, lang)
        assert "AdamP" in text and "pip install adamp" in text and "RAdam" in text and "AdamW" in text


def test_tutor_run_jsonl_carries_each_optimizers_state(lesson, capsys):
    """`tutor run optimizers --jsonl`: every iteration event names the optimizer of its
    loop, and the momentum buffer and Adam's moments equal plain torch's."""
    import json

    from tutor.cli import main

    assert main(["run", str(LESSON), "--jsonl"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    loops = [c.index for c in loop_cells(lesson)]
    by_cell = {cell: [e for e in events if e["event"] == "iteration" and e["cell"] == cell] for cell in loops}
    kinds = [by_cell[cell][0]["optimizer"]["type"] for cell in loops]
    assert kinds == ["SGD", "SGD", "Adam", "AdamW", "RAdam"]
    assert all(len(by_cell[cell]) == 101 for cell in loops)
    # after iteration k's step: momentum buffer (loop 1) and Adam's moments (loop 2)
    k = 4
    _, _, opt = plain(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), k + 1)
    W = opt.param_groups[0]["params"][0]
    state = by_cell[loops[1]][k]["optimizer"]["state"]["W"]
    assert state == {"momentum_buffer": opt.state[W]["momentum_buffer"].tolist()}
    _, _, opt = plain(lambda p: torch.optim.Adam(p, lr=0.1), k + 1)
    W = opt.param_groups[0]["params"][0]
    state = by_cell[loops[2]][k]["optimizer"]["state"]["W"]
    assert state["exp_avg"] == opt.state[W]["exp_avg"].tolist()
    assert state["exp_avg_sq"] == opt.state[W]["exp_avg_sq"].tolist()
    assert state["step"] == float(opt.state[W]["step"]) == k + 1
    assert by_cell[loops[0]][0]["optimizer"]["state"] == {}  # plain SGD keeps no state
