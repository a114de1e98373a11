"""The `?` help: every key of the screen below and of the app, in the current language.

Generated from the BINDINGS (by binding id), so the help can never list a key that
does not exist or miss one that does.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tutor.ui.i18n import t


def binding_rows(app, nodes) -> list[tuple[str, str]]:
    """(keys, description) for each binding id of `nodes`, in declaration order.

    `Binding("q,escape", ...)` is expanded into one binding per key, all with the
    same id, so keys are gathered per id."""
    keys_by_id: dict[str, list[str]] = {}
    for node in nodes:
        for binding in _declared(node):
            if binding.id is None:
                continue
            keys = keys_by_id.setdefault(binding.id, [])
            display = app.get_key_display(binding)
            if display not in keys:
                keys.append(display)
    return [(" ".join(keys), t("describe." + id_, app.lang)) for id_, keys in keys_by_id.items()]


def _declared(node) -> list[Binding]:
    return list(Binding.make_bindings(type(node).BINDINGS))


class HelpScreen(ModalScreen):
    BINDINGS = [
        Binding("escape,question_mark,q", "close", "close", id="help.close"),
        # a modal screen hides the app's bindings: switching language stays possible
        Binding("l", "app.toggle_lang", "lang", show=False, id="help.lang"),
    ]

    def __init__(self, screen_below) -> None:
        super().__init__(id="help")
        self.screen_below = screen_below

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static("", id="help-text")

    def on_mount(self) -> None:
        self.watch(self.app, "lang", self._fill, init=True)  # `l` works here too

    def _fill(self, lang: str) -> None:
        table = Table(box=None, padding=(0, 2, 0, 0), show_header=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for keys, description in binding_rows(self.app, [self.screen_below, self.app]):
            table.add_row(keys, description)
        box = self.query_one("#help-box")
        box.border_title = t("help.title", lang)
        box.border_subtitle = t("help.footer", lang)
        self.query_one("#help-text", Static).update(table)

    def action_close(self) -> None:
        self.dismiss()
