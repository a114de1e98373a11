"""The lesson screen, driven by its keys at 80x24 with the real engine."""

from __future__ import annotations

import asyncio
import json
import time

import torch

from tutor.ui.screens.help import HelpScreen
from tutor.ui.screens.lesson import LessonScreen
from tutor.ui.screens.picker import PickerScreen
from tutor.ui.widgets.cost_plot import CostPlot
from tutor.ui.widgets.lr_field import LrField
from tutor.ui.widgets.tensor_table import fmt_number

from .conftest import open_lesson, press_and_settle, screen_text, settled, wait_for


def reference_w(iterations: int, lr: float = 0.1) -> float:
    """What the tiny lesson's w is after `iterations` steps, computed by plain torch."""
    w = torch.tensor([1.0], requires_grad=True)
    for _ in range(iterations):
        cost = ((w * 2 - 4) ** 2).mean()
        cost.backward()
        with torch.no_grad():
            w -= lr * w.grad
            w.grad.zero_()
    return w.item()


async def test_lesson_opens_with_no_focus_and_shows_code_before_torch(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, LessonScreen)
        assert app.focused is None
        text = screen_text(app)
        assert "w = torch.tensor([1.0]," in text
        await open_lesson(pilot)
        assert app.focused is None


async def test_n_runs_a_cell_then_one_iteration_and_reveals_expected_output(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        text = screen_text(app)
        assert "predict it" in text  # expected output hidden before the cell ran
        assert "ready" not in text.split("output")[-1]
        await press_and_settle(pilot, screen, "n")
        state = screen.runner.state
        assert state.cells_done == (0,)
        text = screen_text(app)
        assert "✓ matches the expected output" in text
        await press_and_settle(pilot, screen, "n", "n", "n")
        state = screen.runner.state
        assert state.cell == 1 and state.iteration == 2
        # The tensor table shows w as plain torch computes it after two steps.
        assert fmt_number(reference_w(2)) in screen_text(app)
        assert len(state.costs) == 2
        status = screen.query_one("#status").render().plain
        assert "cell 2" in status and "iter 2" in status and "paused" in status  # from 1


async def test_s_steps_one_statement(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "s")
        first = screen.runner.state.line
        await press_and_settle(pilot, screen, "s")
        second = screen.runner.state.line
        assert first is not None and second == first + 1
        assert f"❱ {second}" in screen_text(app).replace("  ", " ")


async def test_R_runs_to_done_and_marks_the_lesson_finished(make_app, progress_path):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.runner.state.status == "done", what="done")
        await wait_for(pilot, lambda: settled(screen))
        state = screen.runner.state
        assert state.finished and len(state.costs) == 5
        assert "done" in screen.query_one("#status").render().plain
        assert "Lesson finished" in screen_text(app)
        await pilot.press("q")
        assert isinstance(app.screen, PickerScreen)
        from textual.widgets import OptionList

        tiny = app.screen.query_one(OptionList).get_option_at_index(0).prompt.plain
        assert "✓" in tiny and "▶" in tiny
    data = json.loads(progress_path.read_text())
    assert data["lessons"]["tiny-fit"]["finished"] is True
    assert data["last_lesson"] == "tiny-fit"


async def test_space_pauses_a_free_run_and_keys_stay_responsive(make_app, lessons_dir):
    from .conftest import LONG

    (lessons_dir / "04-long.md").write_text(LONG, encoding="utf-8")
    app = make_app(lesson="long-run")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: len(screen.runner.state.costs) > 5, what="some iterations")
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.runner.state.status == "paused", what="pause")
        assert 0 < len(screen.runner.state.costs) < 1_000_000
        await pilot.press("l")  # still responsive, still paused where it was
        assert app.lang == "ko"
        assert screen.runner.state.status == "paused"


async def test_r_resets_keeps_lr_and_keeps_the_previous_curve(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n", "n", "n")
        assert screen.runner.state.costs
        await pilot.press("e")
        await pilot.press(*"0.05", "enter")
        await press_and_settle(pilot, screen, "r")
        state = screen.runner.state
        assert state.status == "idle" and not state.costs
        assert state.lr_override == 0.05
        runs = app.previous_runs["tiny-fit"]
        assert len(runs) == 1 and runs[0].lr_label == "lr=0.1"
        assert "lr=0.1" in screen.query_one(CostPlot).render().plain
        await pilot.press("c")
        assert "tiny-fit" not in app.previous_runs


async def test_e_applies_a_good_lr_and_returns_focus(make_app, progress_path):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n")
        await pilot.press("e")
        assert screen.query_one(LrField).editing and app.focused is None  # a mode, not a focus
        await pilot.press(*"0.2", "enter")
        assert not screen.query_one(LrField).editing
        # the kernel's next state carries it (the client's state is the kernel's answer)
        await wait_for(pilot, lambda: screen.runner.state.lr_override == 0.2, what="lr 0.2")
        await press_and_settle(pilot, screen, "n", "n")
        assert screen.runner.state.lr == 0.2
        # the field's own keys do not leak: n after the edit steps again
        before = len(screen.runner.state.costs)
        await press_and_settle(pilot, screen, "n")
        assert len(screen.runner.state.costs) == before + 1
        await pilot.press("q")
    assert json.loads(progress_path.read_text())["lessons"]["tiny-fit"]["lr_history"] == [0.2]


async def test_e_refuses_bad_values_and_escape_cancels(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        field = screen.query_one(LrField)
        for bad, words in [
            ("abc", "not a number"), ("0", "greater than 0"), ("-1", "greater than 0"),
            ("nan", "finite"), ("inf", "finite"), ("1e400", "finite"), ("0x10", "not a number"),
            ("학습률", "not a number"), ("", "type a number"),
        ]:
            await pilot.press("e")
            await pilot.press("backspace", *bad, "enter")
            assert words in field.query_one("#lr-message").render().plain, bad
            assert field.editing  # still editing: fix it or escape
            assert screen.runner.state.lr_override is None
            await pilot.press("escape")
            assert not field.editing
            assert isinstance(app.screen, LessonScreen)  # escape left the field, not the lesson
        assert screen.runner.state.lr_override is None


async def test_brackets_move_between_sections_and_h_shows_a_hint(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        assert screen.section == 0
        await pilot.press("right_square_bracket")
        assert screen.section == 1 and "Setup" in screen_text(app)
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert screen.section == 2
        # the section's prose (Textual's Markdown parses in a thread and mounts after)
        await wait_for(pilot, lambda: "Five steps" in screen_text(app), what="§2's prose")
        await pilot.press("h")
        await pilot.pause(0.1)
        assert "Watch the grad column." in screen_text(app)
        await pilot.press("left_square_bracket")
        assert screen.section == 1
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert screen.section == 0


async def test_l_switches_language_live_without_losing_the_position(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n", "n")
        before = screen.runner.state
        await pilot.press("l")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "훈련" in text and "기울기" in text and "멈춤" in text
        assert "다음" in text  # footer label
        assert screen.runner.state.pause_index == before.pause_index
        await pilot.press("l")
        await pilot.pause(0.1)
        assert "Train" in screen_text(app)


async def test_g_toggles_log_scale(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n", "n", "n")
        plot = screen.query_one(CostPlot)
        assert not plot.log_scale
        await pilot.press("g")
        assert plot.log_scale and "[log]" in plot.render().plain
        await pilot.press("g")
        assert not plot.log_scale


async def test_question_mark_lists_every_lesson_key(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for binding in LessonScreen.BINDINGS:
            from tutor.ui.i18n import t

            assert t("describe." + binding.id, "en") in text
        await pilot.press("question_mark")
        assert isinstance(app.screen, LessonScreen)


async def test_escape_goes_back_and_remembers_the_position(make_app, progress_path):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n")
        await pilot.press("escape")
        assert isinstance(app.screen, PickerScreen)
    data = json.loads(progress_path.read_text())
    assert data["lessons"]["tiny-fit"]["position"] == {"section": 2, "cell": 1}


async def test_error_is_shown_with_its_line_and_r_recovers(make_app):
    app = make_app(lesson="broken")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n")
        state = screen.runner.state
        assert state.status == "error"
        line = state.error.line
        assert screen.lesson.cells[0].line + 1 == line  # `y = x / 0`
        text = screen_text(app)
        assert "ZeroDivisionError" in text and f"02-broken.md:{line}" in text
        assert "error" in screen.query_one("#status").render().plain
        await press_and_settle(pilot, screen, "r")
        assert screen.runner.state.status == "idle"
        assert "ZeroDivisionError" not in screen_text(app)


async def test_a_diverging_run_pauses_says_why_and_b_goes_back_to_where_it_began(make_app):
    app = make_app(lesson="diverge")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.runner.state.divergence is not None, what="the divergence")
        await wait_for(pilot, lambda: settled(screen))
        state = screen.runner.state
        assert state.status == "paused" and state.divergence.kind == "growth"
        text = screen_text(app)
        assert "learning rate is probably too large" in text and "b: back to iter 0" in text
        await pilot.press("l")
        await pilot.pause(0.1)
        assert "학습률이 너무 큰" in screen_text(app)
        await pilot.press("b")
        await wait_for(pilot, lambda: screen.runner.state.iteration == state.divergence.growth_start
                       and screen.runner.state.status == "paused", what="the way back")
        assert screen.runner.state.divergence is None


async def test_p_records_a_prediction_and_compares_it_after_the_cell_ran(make_app):
    from textual.widgets import TextArea

    from tutor.ui.screens.predict import PredictScreen

    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("p")
        assert isinstance(app.screen, PredictScreen)
        app.screen.query_one(TextArea).text = "ready"
        await pilot.press("ctrl+s")
        assert app.screen is screen
        assert screen.predictions == {0: "ready"}
        await press_and_settle(pilot, screen, "n")
        output = screen.query_one("#output-text").render()
        text = screen_text(app)
        assert "prediction matches" in text, output


async def test_E_edits_a_cell_and_runs_the_lesson_again_with_it(make_app):
    from textual.widgets import TextArea

    from tutor.ui.screens.edit_cell import EditCellScreen

    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n")
        old_runner = screen.runner
        await pilot.press("E")
        assert isinstance(app.screen, EditCellScreen)
        area = app.screen.query_one(TextArea)
        area.text = area.text.replace('print("ready")', 'print("edited")')
        await pilot.press("ctrl+r")
        assert app.screen is screen
        assert screen.runner is not old_runner
        await press_and_settle(pilot, screen, "n")
        assert screen.runner.state.outputs[0] == "edited\n"
        # edited code: no ✓/✗, a note, the expected text folded
        text = " ".join(" ".join(line.split("│")[0] for line in screen_text(app).splitlines()).split())
        assert "lesson's own code" in text and "differs" not in text and "✓" not in text


async def test_a_key_pressed_while_torch_loads_runs_once_it_is_ready(make_app):
    from tutor.engine.runner import Runner

    app = make_app(lesson="tiny-fit")
    app._load_engine = lambda: None  # hold "loading torch…" until the test says so
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert screen.runner is None
        assert "loading torch" in screen.query_one("#status").render().plain
        await pilot.press("n")
        app._engine_loaded(Runner)
        await wait_for(pilot, lambda: screen.runner is not None and 0 in screen.runner.state.cells_done,
                       what="cell 0 ran")


async def test_n_pressed_quickly_three_times_takes_three_steps(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n")  # into the loop: iteration 0
        await pilot.press("n", "n", "n")  # no waiting in between
        await wait_for(pilot, lambda: screen.runner.state.iteration == 3 and settled(screen),
                       what="three more iterations")
        await pilot.pause(0.3)
        assert screen.runner.state.iteration == 3  # and not more


async def test_keys_typed_right_after_e_land_in_the_field(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        from textual import events

        # One burst, queued before any is handled, as tmux or a fast typist sends them
        # (pilot.press would wait for each key to be processed).
        for key, char in [("e", "e"), ("0", "0"), ("full_stop", "."), ("3", "3"), ("enter", "\r")]:
            app.post_message(events.Key(key, char))
        await wait_for(pilot, lambda: screen.runner.state.lr_override == 0.3, what="lr 0.3")
        assert app.focused is None


async def test_the_letter_e_can_be_typed_in_the_lr_field(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("e", "backspace", *"1e-3", "enter")
        # the kernel's next state carries it (the client's state is the kernel's answer)
        await wait_for(pilot, lambda: screen.runner.state.lr_override == 0.001, what="lr 1e-3")
        assert app.focused is None


async def test_pagedown_scrolls_a_long_section(make_app, lessons_dir):
    long_prose = "\n\n".join(f"Paragraph {i} of a long section." for i in range(40))
    (lessons_dir / "05-long-text.md").write_text(
        "---\nid: long-text\ntitle:\n  en: Long text\n  ko: 긴 글\n---\n\n" + long_prose
        + "\n\n## Code | 코드\n\n```python\nx = 1\n```\n",
        encoding="utf-8",
    )
    app = make_app(lesson="long-text")
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.screen.query_one("#prose-pane")
        # the long prose mounted and laid out (Textual's Markdown: asynchronously)
        await wait_for(pilot, lambda: pane.max_scroll_y > 0, what="the long prose")
        assert pane.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause(0.1)
        assert pane.scroll_y > 0
        await pilot.press("pageup")
        await pilot.pause(0.1)
        assert pane.scroll_y == 0


async def test_q_q_in_one_burst_leaves_the_lesson_and_quits(make_app):
    from textual import events

    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_lesson(pilot)
        # queued together, as one read from the terminal: each reaches its own screen
        for _ in range(2):
            app.post_message(events.Key("q", "q"))
        # until the app has quit (exit() sets the return code), not a fixed 1 s that a
        # loaded machine could spend before the second q reached the picker
        deadline = time.monotonic() + 15
        while app.return_code is None:
            assert time.monotonic() < deadline, f"the app did not quit: {app.screen}"
            await asyncio.sleep(0.02)
    assert app.return_code == 0
