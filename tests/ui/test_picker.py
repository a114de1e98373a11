"""The picker: order, titles per language, marks, keys, opening and quitting."""

from __future__ import annotations

import argparse

import pytest
from textual.widgets import OptionList

from tutor.cli import UsageError
from tutor.commands.app import build_app
from tutor.progress import Progress
from tutor.ui.screens.help import HelpScreen
from tutor.ui.screens.lesson import LessonScreen
from tutor.ui.screens.picker import PickerScreen

from .conftest import screen_text


async def test_picker_lists_lessons_in_order_in_both_languages(make_app):
    app = make_app(lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, PickerScreen)
        text = screen_text(app)
        assert text.index("Tiny fit") < text.index("Broken lesson") < text.index("Too large")
        assert "Fit one weight" in text  # summary of the highlighted lesson
        await pilot.press("l")
        text = screen_text(app)
        assert "작은 학습" in text and "경사 하강법으로" in text
        assert "Tiny fit" not in text
        await pilot.press("l")
        assert "Tiny fit" in screen_text(app)


async def test_picker_keys_move_and_open(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        option_list = app.screen.query_one(OptionList)
        assert option_list.highlighted == 0
        await pilot.press("j")
        assert option_list.highlighted == 1
        summary = app.screen.query_one("#lesson-summary")
        assert summary.region.x > 0
        assert any("Broken lesson" in line[summary.region.x:] for line in screen_text(app).splitlines())
        await pilot.press("down")
        assert option_list.highlighted == 2
        await pilot.press("k")
        await pilot.press("up")
        assert option_list.highlighted == 0
        await pilot.press("enter")
        assert isinstance(app.screen, LessonScreen)
        assert app.screen.lesson.id == "tiny-fit"
        await pilot.press("q")
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("escape")  # picker -> quit
        await pilot.pause()
    assert app.return_code == 0


async def test_picker_keys_typed_in_one_burst_keep_their_order(make_app):
    """Over SSH `j j enter` can arrive in one read: enter opens the lesson j moved to."""
    from textual import events

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for key, char in (("j", "j"), ("j", "j"), ("enter", "\r")):
            app.post_message(events.Key(key, char))  # queued at once, as a driver does
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, LessonScreen)
        assert app.screen.lesson.id == app.lessons[2].id


async def test_picker_help_lists_every_picker_key(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for words in ("open the highlighted lesson", "move down", "switch language", "quit"):
            assert words in text
        await pilot.press("escape")
        assert isinstance(app.screen, PickerScreen)


async def test_picker_marks_finished_and_last_opened(make_app, progress_path):
    progress = Progress.load(progress_path)
    progress.mark_finished("tiny-fit")
    progress.set_position("broken", 1, 0)
    progress.save()
    app = make_app()
    async with app.run_test(size=(80, 24)):
        option_list = app.screen.query_one(OptionList)
        tiny = option_list.get_option_at_index(0).prompt.plain
        broken = option_list.get_option_at_index(1).prompt.plain
        assert "✓" in tiny and "▶" not in tiny
        assert "▶" in broken and "✓" not in broken
        # the last lesson opened is the one highlighted
        assert app.screen.query_one(OptionList).highlighted == 1


async def test_picker_shows_lesson_files_that_could_not_be_read(make_app, lessons_dir):
    (lessons_dir / "04-bad.md").write_text("---\nid: bad\n", encoding="utf-8")
    app = make_app()
    async with app.run_test(size=(80, 24)):
        text = screen_text(app)
        assert "04-bad.md" in text
        assert "Tiny fit" in text


def test_unknown_lesson_is_a_usage_error_before_the_app_starts(lessons_dir):
    args = argparse.Namespace(lessons=str(lessons_dir), lang="en", lesson="no-such", watch=False)
    with pytest.raises(UsageError):
        build_app(args)


def test_lesson_by_id_or_path_opens_directly(lessons_dir, progress_path):
    for ref in ("tiny-fit", str(lessons_dir / "01-tiny.md")):
        args = argparse.Namespace(lessons=str(lessons_dir), lang="en", lesson=ref, watch=False)
        app = build_app(args, progress_path=progress_path)
        assert app.initial_lesson.id == "tiny-fit"


async def test_help_follows_a_language_switch(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert "move down" in screen_text(app)
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "아래로" in screen_text(app)
