"""The lesson picker: lessons in file-name order, progress marks, a summary.

Marks: ✓ finished, ▶ the lesson opened last. Lesson files that could not be read
are listed under the lessons with their `path:line: message`, so a teacher sees
why a lesson is missing instead of wondering.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tutor.engine.lesson import Lesson
from tutor.ui.i18n import localize_bindings, t


class PickerScreen(Screen):
    BINDINGS = [
        # priority: the focused OptionList would otherwise take enter (and hide it
        # from the footer); opening the highlighted lesson is the same thing. All of
        # them, not only enter: a priority binding runs as the app receives the key,
        # ahead of keys already forwarded to the list, so `j j enter` arriving in one
        # read would open the lesson the cursor was on before the j's.
        Binding("enter", "open", "open", id="picker.open", priority=True),
        Binding("down,j", "move(1)", "down", show=False, id="picker.down", priority=True),
        Binding("up,k", "move(-1)", "up", show=False, id="picker.up", priority=True),
        Binding("x", "reset_progress", "reset progress", show=False,
                id="picker.reset_progress", priority=True),
        Binding("q,escape", "back", "quit", id="picker.back", priority=True),
    ]

    def __init__(self, lessons: list[Lesson], errors: list[str], lessons_dir: str) -> None:
        super().__init__(id="picker")
        self.lessons = lessons
        self.errors = errors
        self.lessons_dir = lessons_dir

    @property
    def lang(self) -> str:
        return self.app.lang

    def compose(self) -> ComposeResult:
        yield Static("", id="picker-title")
        with Horizontal(id="picker-body"):
            yield OptionList(id="lesson-list")
            yield Static("", id="lesson-summary")
        yield Static("", id="picker-errors")
        yield Static("", id="picker-legend")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.watch(self.app, "lang", self._lang_changed, init=False)
        self.render_all()
        option_list = self.query_one(OptionList)
        last = self.app.progress.last_lesson
        ids = [lesson.id for lesson in self.lessons]
        if last in ids:
            option_list.highlighted = ids.index(last)
        elif ids:
            option_list.highlighted = 0
        option_list.focus()

    def on_screen_resume(self) -> None:
        # Back from a lesson: marks may have changed.
        self.render_all()

    def _lang_changed(self, _lang: str) -> None:
        self.render_all()

    def render_all(self) -> None:
        lang = self.lang
        localize_bindings(self, lang)
        self.refresh_bindings()
        self.query_one("#picker-title", Static).update(Text(t("picker.title", lang), style="bold"))
        self.query_one("#picker-legend", Static).update(t("picker.legend", lang))
        option_list = self.query_one(OptionList)
        highlighted = option_list.highlighted
        progress = self.app.progress
        options = []
        for number, lesson in enumerate(self.lessons, 1):
            finished = lesson.id in progress.finished
            last = lesson.id == progress.last_lesson
            prompt = Text(no_wrap=True, overflow="ellipsis")
            prompt.append("✓" if finished else " ", "green")
            prompt.append("▶" if last else " ", "bold")
            prompt.append(f" {number:2d}. ")
            prompt.append(lesson.title.get(lang))
            options.append(Option(prompt, id=lesson.id))
        option_list.clear_options()
        option_list.add_options(options)
        if self.lessons:
            option_list.highlighted = min(highlighted or 0, len(self.lessons) - 1)
        errors = self.query_one("#picker-errors", Static)
        if self.errors:
            body = Text(t("picker.errors", lang, n=len(self.errors)) + "\n", style="bold")
            body.append("\n".join(self.errors), style="red")
            errors.update(body)
            errors.display = True
        else:
            errors.display = False
        self._show_summary()

    def _show_summary(self) -> None:
        summary = self.query_one("#lesson-summary", Static)
        lesson = self.highlighted_lesson()
        if lesson is None:
            summary.update(t("picker.empty", self.lang, dir=self.lessons_dir))
            return
        lang = self.lang
        head = Text(lesson.title.get(lang) + "\n", style="bold")
        if lesson.summary.get(lang):
            head.append("\n" + lesson.summary.get(lang) + "\n")
        progress = self.app.progress
        position = progress.position(lesson.id)
        sections = Table.grid(padding=(0, 1, 0, 0))  # hanging indent for long titles
        sections.add_column(no_wrap=True)
        sections.add_column()
        for section in lesson.sections[1:]:
            here = position is not None and position["section"] == section.index
            sections.add_row(
                Text("▶" if here else " ", "bold"),
                Text(f"§{section.index} {section.title.get(lang)}", "bold" if here else ""),
            )
        parts = [head, sections]
        if lesson.id in progress.finished:
            parts.append(Text("\n" + t("picker.finished", lang), "green"))
        summary.update(Group(*parts))

    def highlighted_lesson(self) -> Lesson | None:
        index = self.query_one(OptionList).highlighted
        if index is None or not self.lessons:
            return None
        return self.lessons[index]

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, _event) -> None:
        self._show_summary()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        lesson = self.highlighted_lesson()
        if lesson is not None:
            self.app.open_lesson(lesson)

    def action_move(self, delta: int) -> None:
        option_list = self.query_one(OptionList)
        if delta > 0:
            option_list.action_cursor_down()
        else:
            option_list.action_cursor_up()

    def action_reset_progress(self) -> None:
        """Forget the highlighted lesson's progress: a learner starting it over."""
        lesson = self.highlighted_lesson()
        if lesson is None:
            return
        progress = self.app.progress
        progress.reset_lesson(lesson.id)
        progress.save()
        self.render_all()
        self.notify(t("picker.progress_reset", self.lang, title=lesson.title.get(self.lang)), timeout=4)

    def action_back(self) -> None:
        self.app.exit()
