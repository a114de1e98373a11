"""Earlier runs of a lesson stay in the cost plot, with their lr and final cost."""

from __future__ import annotations

import torch

from tutor.ui.widgets.cost_plot import MAX_PREVIOUS, CostPlot
from tutor.ui.widgets.status_line import fmt_cost

from .conftest import settled, wait_for
from .conftest import open_lesson, press_and_settle


def final_cost(lr: float, epochs: int = 5) -> float:
    """The tiny lesson's last printed cost at `lr`, by plain torch."""
    w = torch.tensor([1.0], requires_grad=True)
    for _ in range(epochs):
        cost = ((w * 2 - 4) ** 2).mean()
        cost.backward()
        with torch.no_grad():
            w -= lr * w.grad
            w.grad.zero_()
    return cost.item()


def legend(screen) -> str:
    """The plot's text with its wrapping undone."""
    return " ".join(screen.query_one(CostPlot).render().plain.split())


async def run_to_done(pilot, screen):
    await pilot.press("R")
    await wait_for(pilot, lambda: screen.runner.state.status == "done" and settled(screen), what="done")


async def test_each_reset_keeps_the_run_with_its_lr_and_final_cost(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await run_to_done(pilot, screen)
        for lr in ("0.05", "0.2"):
            await pilot.press("e", *lr, "enter")
            await press_and_settle(pilot, screen, "r")
            await run_to_done(pilot, screen)
        runs = app.previous_runs["tiny-fit"]
        assert [r.lr_label for r in runs] == ["lr=0.05", "lr=0.1"]  # newest first
        text = legend(screen)
        assert f"lr=0.05 §2 → {fmt_cost(final_cost(0.05))}" in text
        assert f"lr=0.1 §2 → {fmt_cost(final_cost(0.1))}" in text
        assert "now lr=0.2 §2" in text
        assert abs(runs[1].costs[-1].cost - final_cost(0.1)) < 1e-6


async def test_at_most_five_earlier_runs_and_c_clears_them(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        lrs = ["0.01", "0.02", "0.03", "0.04", "0.05", "0.06"]
        for lr in lrs:
            await pilot.press("e", *lr, "enter", "R")
            await wait_for(pilot, lambda: screen.runner.state.status == "done", what="done")
            await pilot.press("r")
        runs = app.previous_runs["tiny-fit"]
        assert len(runs) == MAX_PREVIOUS
        assert [r.lr_label for r in runs] == [f"lr={x}" for x in reversed(lrs[-MAX_PREVIOUS:])]
        plot = screen.query_one(CostPlot)
        assert len(plot._previous) == MAX_PREVIOUS
        await pilot.press("c")
        await pilot.pause(0.1)
        assert "tiny-fit" not in app.previous_runs and plot._previous == ()
        assert "→" not in legend(screen)


async def test_earlier_runs_survive_leaving_and_reopening_the_lesson(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await run_to_done(pilot, screen)
        await pilot.press("q")
        await pilot.press("enter")  # the picker highlights the lesson opened last
        await wait_for(pilot, lambda: getattr(app.screen, "runner", None) is not None, what="runner")
        assert f"lr=0.1 §2 → {fmt_cost(final_cost(0.1))}" in legend(app.screen)
