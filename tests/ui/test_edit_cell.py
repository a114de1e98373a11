"""EditCellScreen in a tiny host app: run, cancel, syntax errors, saving a copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Static, TextArea

from tutor.engine.lesson import Cell, Lesson, Section, Text
from tutor.ui.screens.edit_cell import EditCellScreen

LESSON_TEXT = (
    "---\n"
    "id: tiny\n"
    "title: {en: Tiny, ko: 작은}\n"
    "---\n"
    "\n"
    "```python\n"
    "w = 1.0\n"  # line 7, cell 0
    "w * 2\n"
    "```\n"
    "\n"
    "```python norun\n"
    "w = = 2\n"  # line 12, cell 1
    "```\n"
)


@pytest.fixture
def lesson(tmp_path: Path) -> Lesson:
    path = tmp_path / "lessons" / "01-tiny.md"
    path.parent.mkdir()
    path.write_text(LESSON_TEXT, encoding="utf-8")
    return Lesson(
        id="tiny",
        title=Text("Tiny", "작은"),
        path=path,
        sections=(Section(0, Text("Tiny", "작은"), Text(), 1, cells=(0, 1)),),
        cells=(Cell(0, "w = 1.0\nw * 2\n", 7, 0), Cell(1, "w = = 2\n", 12, 0, norun=True)),
    )


class Host(App[None]):
    """Pushes one EditCellScreen and records what it returns and posts."""

    def __init__(self, screen: EditCellScreen) -> None:
        super().__init__()
        self.edit_screen = screen
        self.results: list[str | None] = []
        self.saved: list[Path] = []

    def on_mount(self) -> None:
        self.push_screen(self.edit_screen, callback=self.results.append)

    def on_edit_cell_screen_copy_saved(self, message: EditCellScreen.CopySaved) -> None:
        self.saved.append(message.path)


def message_text(screen: EditCellScreen) -> str:
    return str(screen.query_one("#edit-message", Static).render())


async def test_opens_with_the_cell_in_a_python_editor(lesson: Lesson, tmp_path: Path) -> None:
    app = Host(EditCellScreen(lesson, 0, lessons_dir=tmp_path / "mine"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        editor = app.screen.query_one("#edit-source", TextArea)
        assert app.screen is app.edit_screen
        assert editor.has_focus
        assert editor.text == "w = 1.0\nw * 2\n"
        assert editor.language == "python"
        assert editor.is_syntax_aware  # tree-sitter highlighting is installed
        title = str(app.screen.query_one("#edit-title", Static).render())
        assert "cell 1" in title and "line 7" in title


async def test_typed_edit_is_returned_on_ctrl_r(lesson: Lesson, tmp_path: Path) -> None:
    app = Host(EditCellScreen(lesson, 0, lessons_dir=tmp_path / "mine"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("end", "backspace", "backspace", "backspace", *"0.5")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.results == ["w = 0.5\nw * 2\n"]
        assert app.screen is not app.edit_screen


async def test_escape_cancels_even_from_the_editor(lesson: Lesson, tmp_path: Path) -> None:
    app = Host(EditCellScreen(lesson, 0, lessons_dir=tmp_path / "mine"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"junk")
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None]
        assert not (tmp_path / "mine").exists()


async def test_syntax_error_is_shown_with_its_lesson_line(lesson: Lesson, tmp_path: Path) -> None:
    app = Host(EditCellScreen(lesson, 0, lessons_dir=tmp_path / "mine"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        editor = app.screen.query_one("#edit-source", TextArea)
        editor.load_text("w = 1.0\nv = 2\nif w\n    v = 3\n")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.results == []  # nothing returned
        assert app.screen is app.edit_screen
        assert "line 9: expected ':'" in message_text(app.screen)  # 7 + 3 - 1
        assert editor.cursor_location == (2, 4)  # where the ':' is missing
        assert app.edit_screen.error == (9, "expected ':'")
        # ctrl+s refuses the broken cell too and writes nothing
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not (tmp_path / "mine").exists()
        # fixed, it runs
        editor.load_text("w = 1.0\nv = 2\nif w:\n    v = 3\n")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.results == ["w = 1.0\nv = 2\nif w:\n    v = 3\n"]


async def test_ctrl_s_saves_mine_copy_and_shows_path(lesson: Lesson, tmp_path: Path) -> None:
    original = lesson.path.read_bytes()
    app = Host(EditCellScreen(lesson, 0, lang="en", lessons_dir=tmp_path / "mine"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.screen.query_one("#edit-source", TextArea).load_text("w = 3.0\nw * 2\n")
        await pilot.press("ctrl+s")
        await pilot.pause()
        target = tmp_path / "mine" / "01-tiny-mine.md"
        assert app.saved == [target]
        assert app.edit_screen.saved_path == target
        assert "Saved a copy" in message_text(app.screen)
        assert target.read_text(encoding="utf-8") == LESSON_TEXT.replace(
            "id: tiny", "id: tiny-mine"
        ).replace("w = 1.0\nw * 2\n", "w = 3.0\nw * 2\n")
        assert lesson.path.read_bytes() == original
        assert app.screen is app.edit_screen  # still editing
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.results == ["w = 3.0\nw * 2\n"]


async def test_save_failure_is_reported_not_raised(lesson: Lesson, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    app = Host(EditCellScreen(lesson, 0, lang="ko", lessons_dir=blocker / "lessons"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "사본을 저장하지 못했습니다" in message_text(app.screen)
        assert app.saved == [] and app.screen is app.edit_screen


async def test_norun_cell_is_not_refused_for_syntax(lesson: Lesson, tmp_path: Path) -> None:
    app = Host(EditCellScreen(lesson, 1, lang="ko", lessons_dir=tmp_path / "mine"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        keys = str(app.screen.query_one("#edit-keys", Static).render())
        assert "실행하지 않습니다" in keys
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.results == ["w = = 2\n"]


async def test_footer_labels_follow_the_language(lesson: Lesson, tmp_path: Path) -> None:
    app = Host(EditCellScreen(lesson, 0, lang="ko", lessons_dir=tmp_path / "mine"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        labels = {b.id: b.description for _, b in app.screen._bindings if b.id}
        assert labels == {"edit.run": "실행", "edit.save": "사본 저장", "edit.cancel": "취소"}
        shown = [key.description for key in app.screen.query("FooterKey")]
        assert shown == ["실행", "사본 저장", "취소"]
