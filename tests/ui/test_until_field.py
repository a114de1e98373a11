"""The `u` field on the lesson screen: run until, jump back, refusals, and the branch
label in the cost plot after going back and changing the lr."""

from __future__ import annotations

import torch

from tests.ui.conftest import open_lesson, screen_text, settled, wait_for
from tutor.ui.widgets.cost_plot import CostPlot
from tutor.ui.widgets.until_field import UntilField


def tiny_costs(lr: float = 0.1) -> list[float]:
    """tiny-fit's training loop in plain torch."""
    w = torch.tensor([1.0], requires_grad=True)
    costs = []
    for _ in range(5):
        cost = ((w * 2 - 4) ** 2).mean()
        cost.backward()
        with torch.no_grad():
            w -= lr * w.grad
            w.grad.zero_()
        costs.append(cost.item())
    return costs


async def type_until(pilot, screen, text: str):
    before = screen.runner.state
    await pilot.press("u", *text, "enter")
    await wait_for(pilot, lambda: screen.runner.state is not before and settled(screen), what=text)
    return screen.runner.state


async def test_u_runs_until_jumps_back_refuses_and_labels_a_branch(make_app):
    expected = next(i for i, c in enumerate(tiny_costs()) if c < 0.01)
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        field = screen.query_one(UntilField)
        assert field.styles.display == "none"  # shown only while typing in it

        # Refused: the field stays open and says why; nothing ran.
        await pilot.press("u", *"cost <", "enter")
        await pilot.pause(0.1)
        assert field.editing and "not a condition" in screen_text(app)
        assert screen.runner.state.status == "idle"
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert not field.editing and app.focused is None

        state = await type_until(pilot, screen, "cost < 1e-2")  # `e` typed here is text, not the lr key
        assert state.until.reason == "met" and state.until.iteration == expected
        assert [c.cost for c in state.costs] == tiny_costs()[:expected + 1]
        assert f"Stopped: cost < 1e-2 at iteration {expected}" in screen_text(app)
        assert not screen.query_one("#lr-field").has_class("-editing")

        state = await type_until(pilot, screen, "@1")  # back, through goto
        assert state.iteration == 1 and len(state.costs) == 1
        await pilot.press("e", "backspace", "backspace", "backspace", *"0.05", "enter")
        await wait_for(pilot, lambda: screen.runner.state.lr_override == 0.05, what="lr 0.05")
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.runner.state.status == "done" and settled(screen), what="done")
        await pilot.pause(0.6)  # the plot rebuilds at most twice a second
        legend = screen.query_one(CostPlot).render().plain
        assert "lr 0.1 → 0.05 at iter 1" in legend and "lr=0.1 §2 →" in legend  # branch and original
        await pilot.press("c")
        await pilot.pause(0.1)
        assert "at iter 1" not in screen.query_one(CostPlot).render().plain
