"""The run-until field (`u`): one line, like the lr field; `enter` runs, `escape` cancels.

Like the lr field it is a mode of the lesson screen, never a focused widget: the
screen's one ordered key handler feeds it (`type`, `backspace`, `submit`, `cancel`)
while it edits, so no key typed after `u` or after `enter` can overtake another. It
shows only while the learner types in it (the panes keep their rows otherwise); why
a run stopped is said in the output pane, from the engine's facts. The text is
parsed by the engine's own parser (engine/until.py, no torch), the one `tutor run
--until` uses, so a refusal here is a refusal there; a refused text keeps the field
open with the reason and changes nothing.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Static

from tutor.engine.until import Condition, UntilError, parse_until
from tutor.ui.i18n import t


def refusal_key(error: UntilError) -> str:
    """The i18n key that words a refusal."""
    return f"until.{error.reason.value}"


class UntilField(Horizontal):
    """Label, the typed text and a one-line refusal message."""

    def __init__(self, lang: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lang = lang
        self.editing = False
        self.text = ""
        self._selected = False  # the last condition is selected: typing replaces it
        self._message: tuple[str, dict] | None = None

    def compose(self) -> ComposeResult:
        yield Label(t("until.label", self.lang), id="until-label")
        yield Static("", id="until-input")
        yield Static("", id="until-message")

    def on_mount(self) -> None:
        self._show()

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        self.query_one("#until-label", Label).update(t("until.label", lang))
        self._show()

    def begin_edit(self) -> None:
        """Open, with the last condition given selected (enter runs it again)."""
        self.editing = True
        self._selected = bool(self.text)
        self._message = None
        self.add_class("-editing")
        self._show()

    def type(self, chars: str) -> None:
        if self._selected:
            self.text, self._selected = "", False
        self.text += chars
        self._show()

    def backspace(self) -> None:
        if self._selected:
            self.text, self._selected = "", False
        else:
            self.text = self.text[:-1]
        self._show()

    def submit(self) -> Condition | None:
        """`enter`: a condition ends the edit and is returned (the caller runs it at
        once); a refused text keeps the field open, saying why."""
        try:
            condition = parse_until(self.text)
        except UntilError as refused:
            self._message = (refusal_key(refused), {"text": refused.text})
            self._selected = False
            self._show()
            return None
        self._end_edit()
        return condition

    def cancel(self) -> None:
        self._end_edit()

    def _end_edit(self) -> None:
        self.editing = False
        self._selected = False
        self._message = None
        self.remove_class("-editing")
        self._show()

    def _show(self) -> None:
        if not self.is_mounted:
            return
        shown = Text()
        if self.text or self.editing:
            shown.append(self.text, style="reverse" if self._selected else "")
            if self.editing:
                shown.append(" ", style="reverse")  # the cursor
        if not self.text:
            shown.append(t("until.placeholder", self.lang), style="dim")
        self.query_one("#until-input", Static).update(shown)
        message = "" if self._message is None else t(self._message[0], self.lang, **self._message[1])
        self.query_one("#until-message", Static).update(message)
