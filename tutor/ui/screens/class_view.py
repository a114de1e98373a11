"""The teacher's view (`tutor class --state DIR`): one row per learner.

It renders `tutor.serve.roster` summaries (read from the state files, never from
the sessions) and reads them again every few seconds and on `r`, so it follows a
class that is working right now. Words come from tutor/ui/i18n.py; `l` switches the
language like everywhere else. `now` is injectable so tests see fixed "min ago".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import DataTable, Footer, Static

from tutor.engine.lesson import Lesson
from tutor.serve.roster import LearnerSummary, read_class
from tutor.ui.i18n import localize_bindings, other, t

REFRESH_SECONDS = 5.0
COLUMNS = ("name", "place", "finished", "active", "diverged", "predictions")


def ago(stamp: float | None, now: float, lang: str) -> str:
    """How long ago `stamp` was, in the words of `lang`."""
    if stamp is None:
        return t("class.none", lang)
    seconds = max(0.0, now - stamp)
    if seconds < 60:
        return t("class.just_now", lang)
    if seconds < 3600:
        return t("class.minutes_ago", lang, n=int(seconds // 60))
    if seconds < 86400:
        return t("class.hours_ago", lang, n=int(seconds // 3600))
    return t("class.days_ago", lang, n=int(seconds // 86400))


def row(summary: LearnerSummary, now: float, lang: str) -> tuple[str, ...]:
    """The table's cells for one learner."""
    none = t("class.none", lang)
    place = summary.place
    if summary.warning and place is None and not summary.finished:
        where = t("class.unreadable", lang)
    elif place is None:
        where = none
    else:
        title = (place.title_ko if lang == "ko" else place.title_en) or place.lesson
        where = title
        if place.section is not None:  # numbered as the lesson screen does (§0: intro)
            section = (place.section_ko if lang == "ko" else place.section_en)
            where += f" · §{place.section}" + (f" {section}" if section else "")
    closeness = summary.closeness
    predictions = none if not summary.predictions else t(
        "class.prediction_summary", lang, n=summary.predictions,
        pct=round(100 * closeness) if closeness is not None else 0)
    return (summary.name, where, str(len(summary.finished)),
            ago(summary.last_activity, now, lang), str(summary.diverged), predictions)


class ClassApp(App):
    """A table of the learners under one state directory."""

    CSS_PATH = "class_view.tcss"
    TITLE = "tutor class"
    BINDINGS = [
        Binding("r", "refresh_table", "refresh", id="class.refresh"),
        Binding("l", "toggle_lang", t("class.lang", "en"), id="class.lang"),
        Binding("q", "quit", "quit", id="class.quit"),
    ]

    lang: reactive[str] = reactive("en")

    def __init__(self, state_dir: Path, lessons: list[Lesson], lang: str = "en",
                 now: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.state_dir = Path(state_dir)
        self.lessons = lessons
        self.now = now
        self.summaries: list[LearnerSummary] = []
        self.set_reactive(ClassApp.lang, lang)

    def compose(self) -> ComposeResult:
        yield Static(id="class-title")
        yield DataTable(id="learners", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        localize_bindings(self, self.lang)
        self.action_refresh_table()
        self.set_interval(REFRESH_SECONDS, self.action_refresh_table)

    def action_refresh_table(self) -> None:
        self.summaries = read_class(self.state_dir, self.lessons)
        self.render_table()

    def action_toggle_lang(self) -> None:
        self.lang = other(self.lang)

    def watch_lang(self, lang: str) -> None:
        localize_bindings(self, lang)
        self.refresh_bindings()
        if self.is_mounted:
            self.render_table()

    def render_table(self) -> None:
        lang = self.lang
        title = self.query_one("#class-title", Static)
        if self.summaries:
            title.update(t("class.title", lang, n=len(self.summaries), dir=self.state_dir))
        else:
            title.update(t("class.empty", lang, dir=self.state_dir))
        table = self.query_one("#learners", DataTable)
        table.clear(columns=True)
        table.add_columns(*(t(f"class.col.{c}", lang) for c in COLUMNS))
        now = self.now()
        for summary in self.summaries:
            table.add_row(*row(summary, now, lang), key=summary.name)
