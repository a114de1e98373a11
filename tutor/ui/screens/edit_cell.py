"""The cell editor: rewrite the current cell, run the lesson again, keep a copy.

`EditCellScreen` is a modal screen pushed by the lesson screen (`E`). It shows the
cell's source in a Python code editor and returns, through `dismiss`:

- the edited source (`str`) on `ctrl+r`, once it compiles: the caller builds a new
  lesson with `tutor.engine.edit.replace_cell_source` and runs it from the start;
- `None` on `escape`.

A syntax error keeps the screen open and shows the error's line in lesson-file
numbering (`cell.line + k - 1`, where the saved copy would have it), with the cursor
moved there. `ctrl+s` writes the learner's copy of the whole lesson
(`tutor.engine.edit.save_lesson_copy`) and shows the path; the screen stays open and
posts `EditCellScreen.CopySaved` (it bubbles to the app). Norun cells, which may
show broken code on purpose, are never refused for a syntax error.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, TextArea

from tutor.engine.edit import locate_syntax_error, save_lesson_copy
from tutor.engine.lesson import Lesson
from tutor.ui.i18n import localize_bindings, t


class EditCellScreen(ModalScreen[str | None]):
    """Edit one cell of `lesson`; dismiss with the new source or None."""

    DEFAULT_CSS = """
    EditCellScreen {
        align: center middle;
    }
    EditCellScreen > #edit-dialog {
        width: 100%;
        height: 100%;
        max-width: 120;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    EditCellScreen #edit-title {
        text-style: bold;
    }
    EditCellScreen #edit-keys {
        color: $text-muted;
    }
    EditCellScreen #edit-source {
        height: 1fr;
    }
    EditCellScreen #edit-message {
        height: auto;
        max-height: 3;
    }
    EditCellScreen #edit-message.-error {
        color: $error;
    }
    EditCellScreen #edit-message.-ok {
        color: $success;
    }
    """

    BINDINGS = [
        Binding("ctrl+r", "run", "Run", id="edit.run", priority=True),
        Binding("ctrl+s", "save_copy", "Save copy", id="edit.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="edit.cancel", priority=True),
    ]

    class CopySaved(Message):
        """The learner's copy of the lesson was written to `path`."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def __init__(
        self,
        lesson: Lesson,
        cell_index: int,
        lang: str = "en",
        lessons_dir: Path | None = None,
        source: str | None = None,
    ) -> None:
        """`lessons_dir`: where `ctrl+s` writes (default: the learner's data dir);
        `source`: text to start from (default: the cell's source, e.g. pass an
        earlier edit to continue it)."""
        super().__init__()
        self.lesson = lesson
        self.cell = lesson.cells[cell_index]
        self.lang = lang
        self.lessons_dir = lessons_dir
        self.initial_source = self.cell.source if source is None else source
        self.saved_path: Path | None = None
        # (lesson-file line, message) of the syntax error that refused the last run/save
        self.error: tuple[int, str] | None = None
        localize_bindings(self, lang)

    def compose(self) -> ComposeResult:
        cell = self.cell
        with Vertical(id="edit-dialog"):
            yield Static(
                t("edit.title", self.lang, number=cell.index + 1, line=cell.line), id="edit-title"
            )
            keys = t("edit.keys", self.lang)
            if cell.norun:
                keys = f"{t('edit.norun', self.lang)} {keys}"
            yield Static(keys, id="edit-keys")
            yield TextArea.code_editor(
                self.initial_source, language="python", id="edit-source"
            )
            yield Static("", id="edit-message")
        yield Footer()

    def on_mount(self) -> None:
        self.editor.focus()

    @property
    def editor(self) -> TextArea:
        return self.query_one("#edit-source", TextArea)

    @property
    def source(self) -> str:
        return self.editor.text

    def _show(self, text: str, kind: str) -> None:
        message = self.query_one("#edit-message", Static)
        message.update(text)
        message.set_class(kind == "error", "-error")
        message.set_class(kind == "ok", "-ok")

    def _check(self) -> bool:
        """Show the syntax error, if any, and put the cursor on it."""
        found = None if self.cell.norun else locate_syntax_error(self.source)
        if found is None:
            self.error = None
            self._show("", "")
            return True
        row, column, message = found
        self.error = (self.cell.line + row - 1, message)
        self._show(t("edit.error", self.lang, line=self.error[0], message=message), "error")
        document = self.editor.document
        row = min(row - 1, document.line_count - 1)
        column = min(column, len(document.get_line(row)))
        self.editor.move_cursor((row, column))
        self.editor.focus()
        return False

    def action_run(self) -> None:
        if self._check():
            self.dismiss(self.source)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save_copy(self) -> None:
        if not self._check():
            return
        try:
            path = save_lesson_copy(
                self.lesson, self.cell.index, self.source, dest_dir=self.lessons_dir
            )
        except (OSError, ValueError) as exc:
            self._show(t("edit.save_failed", self.lang, reason=exc), "error")
            return
        self.saved_path = path
        self._show(t("edit.saved", self.lang, path=path), "ok")
        self.post_message(self.CopySaved(path))
