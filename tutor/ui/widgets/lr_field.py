"""The learning-rate field: one line, `e` to edit, `enter` applies, `escape` cancels.

The field is a mode of the lesson screen, never a focused widget: the screen's one
key handler takes every key in the order typed and, while the field is editing,
gives it the characters, `backspace`, `enter` and `escape`; so the lesson keys
(`n`, `s`, space, ...) and the typed lr can never overtake each other. Validation is tutor.engine.lr's `parse_lr`, the one lr rule, so it can be
tested on its own and the refusal message is the same everywhere.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Static

from tutor.engine.lr import LrRefused, parse_lr  # noqa: F401  (the one lr rule)
from tutor.ui.i18n import t


def format_lr(lr: float | None) -> str:
    return "" if lr is None else f"{lr:g}"


class LrField(Horizontal):
    """Label, the typed text and a one-line message.

    Not a focused Input: the lesson screen's one key handler feeds it (`type`,
    `backspace`, `submit`, `cancel`) while `editing`, so a key typed right after `e`
    or right after `enter` can never race a focus change (see docs/decisions.md)."""

    def __init__(self, lang: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lang = lang
        self.editing = False
        self.text = ""  # what the field shows (the lr in force, or what is being typed)
        self._selected = False  # the shown value is selected: typing replaces it
        self._lr: float | None = None
        self._message: tuple[str, dict, bool] | None = None  # key, values, is_error

    def compose(self) -> ComposeResult:
        yield Label(t("lr.label", self.lang), id="lr-label")
        yield Static("", id="lr-input")
        yield Static("", id="lr-message")

    def on_mount(self) -> None:
        self._render_text()

    def show_lr(self, lr: float | None) -> None:
        """The lr in force (ignored while the learner is typing)."""
        if lr == self._lr:
            return
        self._lr = lr
        if not self.editing:
            self.text = format_lr(lr)
            self._render_text()

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        self.query_one("#lr-label", Label).update(t("lr.label", lang))
        self._render_text()
        self._render_message()

    # ------------------------------------------------------------ editing

    def begin_edit(self) -> None:
        self.editing = True
        self._selected = bool(self.text)
        self.add_class("-editing")
        self._render_text()

    def type(self, chars: str) -> None:
        """Characters typed (or pasted) into the field."""
        if self._selected:
            self.text, self._selected = "", False
        self.text += chars
        self._render_text()

    def backspace(self) -> None:
        if self._selected:
            self.text, self._selected = "", False
        else:
            self.text = self.text[:-1]
        self._render_text()

    def submit(self) -> float | None:
        """`enter`: a valid lr ends the edit and is returned (the caller applies it at
        once, before the next key); anything else is refused and the edit goes on."""
        try:
            lr = parse_lr(self.text)
        except LrRefused as refused:
            self.say(refused.key, is_error=True, text=refused.text)
            return None
        self._lr = lr
        self.text = format_lr(lr)
        self._end_edit()
        self.say("lr.applied", lr=format_lr(lr))
        return lr

    def cancel(self) -> None:
        self.text = format_lr(self._lr)
        self._end_edit()
        self.say("lr.cancelled")

    def _end_edit(self) -> None:
        self.editing = False
        self._selected = False
        self.remove_class("-editing")
        self._render_text()

    def _render_text(self) -> None:
        if not self.is_mounted:
            return
        shown = Text()
        if self.editing:
            shown.append(self.text, style="reverse" if self._selected else "")
            shown.append(" ", style="reverse")  # the cursor
        elif self.text:
            shown.append(self.text)
        else:
            shown.append(t("lr.placeholder", self.lang), style="dim")
        self.query_one("#lr-input", Static).update(shown)

    # ------------------------------------------------------------ message

    def say(self, key: str | None, is_error: bool = False, **values: object) -> None:
        self._message = None if key is None else (key, values, is_error)
        self._render_message()

    def _render_message(self) -> None:
        label = self.query_one("#lr-message", Static)
        if self._message is None:
            label.update("")
            label.remove_class("-error")
            return
        key, values, is_error = self._message
        label.update(t(key, self.lang, **values))
        label.set_class(is_error, "-error")
