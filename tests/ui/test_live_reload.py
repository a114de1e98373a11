"""`--watch`: the lesson screen and the picker follow the files on disk."""

from __future__ import annotations

import argparse
import os

import pytest

from tutor.ui.screens.lesson import LessonScreen
from tutor.ui.screens.picker import PickerScreen

from .conftest import TINY, screen_text, settled, wait_for
from .conftest import open_lesson, press_and_settle


@pytest.fixture
def make_watching_app(lessons_dir, progress_path, kernel_host):
    from tutor.commands.app import build_app

    def make(lesson: str | None = None, lang: str = "en"):
        args = argparse.Namespace(lessons=str(lessons_dir), lang=lang, lesson=lesson, watch=True)
        return build_app(args, progress_path=progress_path, kernel_host=kernel_host)

    return make


def save(path, text: str) -> None:
    """Write as an editor would, and make sure the mtime moves even on a coarse clock."""
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    if st.st_mtime_ns == before:
        os.utime(path, ns=(st.st_atime_ns, before + 1_000_000))


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


async def test_a_saved_change_shows_new_prose_and_code_in_the_same_section(make_watching_app, lessons_dir):
    path = lessons_dir / "01-tiny.md"
    app = make_watching_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n", "n")  # training: iteration 1
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert screen.section == 2
        await pilot.press("e", *"0.05", "enter")
        # the kernel has taken it (its state says so) before the file changes: the new
        # runner is made with the old one's state.lr_override
        await wait_for(pilot, lambda: screen.runner.state.lr_override == 0.05, what="lr 0.05")
        old_runner = screen.runner
        save(path, TINY.replace("Five steps of gradient descent.", "Seven steps, a new text.")
             .replace("range(5)", "range(7)"))
        await wait_for(pilot, lambda: "Seven steps, a new text." in screen_text(app), what="reload")
        assert screen.section == 2
        assert "range(7)" in screen_text(app)
        assert screen.runner is not old_runner and screen.runner.state.status == "idle"
        assert screen.runner.state.lr_override == 0.05  # the learner's lr survives
        assert app.previous_runs["tiny-fit"]  # the old run's curve, to compare with
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.runner.state.status == "done" and settled(screen))
        assert len(screen.runner.state.costs) == 7  # the new code ran
        assert all(p.lr == 0.05 for p in screen.runner.state.costs)


async def test_a_broken_save_shows_file_line_message_then_a_good_one_recovers(make_watching_app, lessons_dir):
    path = lessons_dir / "01-tiny.md"
    app = make_watching_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")
        broken = TINY.replace("for epoch in range(5):", "for epoch in range(5)")
        save(path, broken)
        line = line_of(broken, "for epoch in range(5)")
        await wait_for(pilot, lambda: screen.reload_errors, what="the error")
        text = screen_text(app)
        joined = "".join(row.strip() for row in text.splitlines())  # the path wraps
        assert f"{path}:{line}: Python syntax error" in joined
        assert "Five steps" not in text  # not the old content
        assert "error" in screen.query_one("#status").render().plain
        await pilot.press("n")  # nothing runs while the file is broken
        await pilot.pause(0.2)
        assert screen.runner.state.status == "idle"

        # a loader error (front matter without its id) is shown the same way
        no_id = TINY.replace("id: tiny-fit\n", "")
        save(path, no_id)
        await wait_for(pilot, lambda: "id" in " ".join(screen.reload_errors), what="loader error")
        assert any(e.startswith(f"{path}:") for e in screen.reload_errors)

        save(path, TINY.replace("Five steps", "Five good steps"))
        await wait_for(pilot, lambda: not screen.reload_errors, what="recovery")
        await wait_for(pilot, lambda: "Five good steps" in screen_text(app), what="new prose")
        assert screen.section == 2 and "syntax error" not in screen_text(app)
        await press_and_settle(pilot, screen, "n")
        assert screen.runner.state.cells_done == (0,)


async def test_removed_sections_clamp_the_section(make_watching_app, lessons_dir):
    path = lessons_dir / "01-tiny.md"
    app = make_watching_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert screen.section == 2
        save(path, TINY.split("## Train | 훈련")[0])
        await wait_for(pilot, lambda: len(screen.lesson.sections) == 2, what="reload")
        assert screen.section == 1 and "Setup" in screen_text(app)


async def test_without_watch_nothing_is_reloaded(make_app, lessons_dir):
    path = lessons_dir / "01-tiny.md"
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        save(path, TINY.replace("2 * w is 4", "2 * w is four"))
        await pilot.pause(1.2)
        assert "is four" not in screen_text(app) and isinstance(screen, LessonScreen)


async def test_the_picker_picks_up_new_and_changed_files(make_watching_app, lessons_dir):
    app = make_watching_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, PickerScreen)
        assert "Brand new" not in screen_text(app)
        (lessons_dir / "04-new.md").write_text(
            TINY.replace("tiny-fit", "brand-new").replace("Tiny fit", "Brand new"), encoding="utf-8"
        )
        await wait_for(pilot, lambda: "Brand new" in screen_text(app), what="the new lesson")
        save(lessons_dir / "01-tiny.md", TINY.replace("Tiny fit", "Tiny fit, renamed"))
        await wait_for(pilot, lambda: "Tiny fit, renamed" in screen_text(app), what="the new title")
        save(lessons_dir / "01-tiny.md", TINY.replace("id: tiny-fit\n", ""))
        await wait_for(pilot, lambda: "01-tiny.md:" in screen_text(app), what="the file's error")
        assert [lesson.id for lesson in app.screen.lessons] == ["broken", "diverge", "brand-new"]


async def test_a_broken_save_during_a_free_run_pauses_it(make_watching_app, lessons_dir):
    from .conftest import LONG

    path = lessons_dir / "04-long.md"
    path.write_text(LONG, encoding="utf-8")
    app = make_watching_app(lesson="long-run")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: len(screen.runner.state.costs) > 5, what="some iterations")
        save(path, LONG.replace("for epoch in range(1_000_000):", "for epoch in range(1_000_000)"))
        await wait_for(pilot, lambda: screen.reload_errors and screen.runner.state.status == "paused",
                       what="the run to pause")
        steps = len(screen.runner.state.costs)
        await pilot.pause(0.3)
        assert len(screen.runner.state.costs) == steps
