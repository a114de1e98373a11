"""Step back (`b`, `left`) through the real lesson screen, and `n` during a free run."""

from __future__ import annotations

from tutor.ui.i18n import t
from tutor.ui.screens.help import HelpScreen
from tutor.ui.widgets.cost_plot import CostPlot
from tutor.ui.widgets.tensor_table import fmt_number

from .conftest import LONG, screen_text, settled, wait_for
from .conftest import open_lesson, press_and_settle
from .test_lesson_screen import reference_w


def status_text(screen) -> str:
    return screen.query_one("#status").render().plain


async def test_b_goes_back_one_iteration_and_every_pane_follows(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n")  # cell 1 ran; loop: iteration 0
        await press_and_settle(pilot, screen, "n", "n")
        after_two = screen.runner.state
        assert after_two.iteration == 2
        await press_and_settle(pilot, screen, "n")
        assert screen.runner.state.iteration == 3
        assert fmt_number(reference_w(3)) in screen_text(app)

        await press_and_settle(pilot, screen, "b")
        state = screen.runner.state
        assert state.status == "paused" and state.iteration == 2
        assert state.line == after_two.line and state.cell == after_two.cell
        w = next(v for v in state.tensors if v.name == "w")
        assert abs(w.value[0] - reference_w(2)) < 1e-6  # plain torch, two steps
        assert [p.cost for p in state.costs] == [p.cost for p in after_two.costs]
        text = screen_text(app)
        assert fmt_number(reference_w(2)) in text and fmt_number(reference_w(3)) not in text
        assert "iter 2" in status_text(screen) and "paused" in status_text(screen)
        assert f"❱ {state.line}" in text.replace("  ", " ")
        plot = screen.query_one(CostPlot)
        assert plot._costs == state.costs and len(plot._costs) == 2
        # the output pane shows the two printed epochs, not the third
        assert state.outputs[1] == after_two.outputs[1]
        printed = [f"{k} {round((reference_w(k) * 2 - 4) ** 2, 4)}" for k in range(3)]
        assert printed[1] in text and printed[2] not in text

        await press_and_settle(pilot, screen, "left")  # the same thing on the arrow key
        assert screen.runner.state.iteration == 1
        w = next(v for v in screen.runner.state.tensors if v.name == "w")
        assert abs(w.value[0] - reference_w(1)) < 1e-6


async def test_b_after_s_goes_back_one_statement(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "s", "s")
        second = screen.runner.state.line
        await press_and_settle(pilot, screen, "s")
        assert screen.runner.state.line == second + 1
        await press_and_settle(pilot, screen, "b")
        assert screen.runner.state.line == second


async def test_b_before_anything_ran_says_so(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("b")
        await pilot.pause(0.1)
        assert screen.runner.state.status == "idle"
        assert any(t("lesson.nothing_back", "en") in str(n.message) for n in app._notifications)


async def test_step_back_is_in_the_footer_and_the_help(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_lesson(pilot)
        assert "prev" in screen_text(app).splitlines()[-1]
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert t("describe.lesson.step_back", "en") in screen_text(app)


async def test_n_during_a_free_run_pauses_and_then_steps(make_app, lessons_dir):
    (lessons_dir / "04-long.md").write_text(LONG, encoding="utf-8")
    app = make_app(lesson="long-run")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: len(screen.runner.state.costs) > 5, what="some iterations")
        await pilot.press("n")
        await wait_for(pilot, lambda: settled(screen) and not screen._queued, what="pause and step")
        await pilot.pause(0.3)
        state = screen.runner.state
        assert state.status == "paused" and state.iteration is not None
        assert len(state.costs) < 1_000_000
        # from here n is one iteration again
        await press_and_settle(pilot, screen, "n")
        assert screen.runner.state.iteration == state.iteration + 1
