"""LessonSession and steering: run until, the divergence's way back, branches kept
with the earlier runs, each curve against plain torch with its lr schedule."""

from __future__ import annotations

import torch

from tests.test_session import make_session, settle
from tutor.engine.until import parse_until
from tutor.session import Branch, branch_point


def plain(schedule: dict[int, float], epochs: int = 5) -> list[float]:
    """TINY's training cell in plain torch; epoch e uses the lr of the latest key <= e."""
    w = torch.tensor([1.0], requires_grad=True)
    costs = []
    for epoch in range(epochs):
        lr = schedule[max(k for k in schedule if k <= epoch)]
        cost = ((w * 2 - 4) ** 2).mean()
        cost.backward()
        with torch.no_grad():
            w -= lr * w.grad
            w.grad.zero_()
        costs.append(cost.item())
    return costs


def attached(tmp_path):
    from tutor.engine.runner import Runner

    session, _ = make_session(tmp_path)
    session.attach(lambda lesson, lr: Runner(lesson, lr_override=lr))
    return session


def test_going_back_and_changing_the_lr_makes_a_branch(tmp_path):
    session = attached(tmp_path)
    session.run_all()  # space (run) stops at the end of a section; R runs the lesson
    done = settle(session)
    session.observe(done)
    assert [c.cost for c in done.costs] == plain({0: 0.1})
    session.run_until(parse_until("@1"))
    back = settle(session)
    session.observe(back)
    assert back.iteration == 1 and len(back.costs) == 1
    assert branch_point(done.costs, back) == 1
    session.set_lr(0.05)
    assert session.branch == Branch(step=1, iteration=1, old_lr=0.1, new_lr=0.05)
    kept = session.previous_runs()
    assert kept[0].costs == done.costs and kept[0].lr_label == "lr=0.1"  # the original, to compare
    session.run()
    branch = settle(session)
    session.observe(branch)
    assert [c.cost for c in branch.costs] == plain({0: 0.1, 1: 0.05})
    assert [c.lr for c in branch.costs] == [0.1, 0.05, 0.05, 0.05, 0.05]
    session.clear_runs()
    assert session.branch is None and session.previous_runs() == ()
    session.leave()


def test_an_lr_change_at_the_front_of_the_run_is_no_branch(tmp_path):
    session = attached(tmp_path)
    session.run_until(parse_until("2"))
    state = settle(session)
    session.observe(state)
    assert state.iteration == 2 and state.until.reason == "reached"
    session.set_lr(0.05)
    assert session.branch is None and session.previous_runs() == ()
    session.leave()


def test_b_at_a_divergence_pause_goes_back_to_where_the_growth_began(tmp_path):
    from tests.engine.conftest import build_lesson
    from tutor.engine.runner import Runner
    from tutor.progress import Progress
    from tutor.session import LessonSession, RunArchive

    lesson = build_lesson(tmp_path / "d.md", ["import torch\nw = torch.tensor([1.0], requires_grad=True)\n"
                                              "for epoch in range(50):\n    cost = ((w * 2 - 4) ** 2).mean()\n"
                                              "    cost.backward()\n    with torch.no_grad():\n"
                                              "        w -= 3.0 * w.grad\n        w.grad.zero_()\n"])
    session = LessonSession(lesson, Progress.load(tmp_path / "p.json"), RunArchive())
    session.attach(lambda lesson, lr: Runner(lesson, lr_override=lr))
    session.run_until(parse_until("cost < 0.0001"))
    paused = settle(session)
    div = paused.divergence
    assert div is not None and paused.status == "paused" and paused.until is None
    session.step_back()
    back = settle(session)
    assert back.pause_index == div.back_point and back.iteration == div.growth_start == 0
    session.leave()


def test_a_branch_keeps_the_original_runs_landscape_path(tmp_path):
    from tutor.engine.runner import Runner

    session, _ = make_session(tmp_path)
    session.attach(lambda lesson, lr: Runner(lesson, lr_override=lr, landscape=True))
    session.run_all()
    done = settle(session)
    session.observe(done)
    assert done.landscape is not None
    session.run_until(parse_until("@2"))
    session.observe(settle(session))
    session.set_lr(0.05)
    kept = session.previous_runs()[0]
    assert kept.costs == done.costs and kept.landscape == done.landscape  # drawn dimmer beside the branch's
    session.leave()
