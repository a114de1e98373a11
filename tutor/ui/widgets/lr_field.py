"""The learning-rate field: one line, `e` to edit, `enter` applies, `escape` cancels.

The input is not focusable until the screen starts an edit, so the lesson keys
(`n`, `s`, space, ...) always reach the screen; after applying or cancelling the
field gives focus back. Validation is a pure function (`parse_lr`) so it can be
tested on its own and the refusal message is the same everywhere.
"""

from __future__ import annotations

import math
import re

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label, Static

from tutor.ui.i18n import t

# ASCII decimal only: `float()` would also take "nan", "inf", "1_0", "0x10" (via
# other paths) or full-width digits, none of which a learner means as a rate.
_NUMBER = re.compile(r"[+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


class LrRefused(ValueError):
    """Input that is not a usable learning rate; `key` names the i18n message."""

    def __init__(self, key: str, text: str = "") -> None:
        super().__init__(key)
        self.key = key
        self.text = text


def parse_lr(text: str) -> float:
    """A learning rate from what the learner typed, or LrRefused saying why not."""
    stripped = text.strip()
    if not stripped:
        raise LrRefused("lr.empty")
    if not _NUMBER.fullmatch(stripped):
        lowered = stripped.lower().lstrip("+-")
        if lowered in ("nan", "inf", "infinity"):
            raise LrRefused("lr.not_finite")
        if stripped.startswith("-") and _NUMBER.fullmatch(stripped[1:]):
            raise LrRefused("lr.not_positive")
        raise LrRefused("lr.not_number", stripped)
    value = float(stripped)
    if not math.isfinite(value):  # 1e400
        raise LrRefused("lr.not_finite")
    if value <= 0:
        raise LrRefused("lr.not_positive")
    return value


def format_lr(lr: float | None) -> str:
    return "" if lr is None else f"{lr:g}"


class LrInput(Input):
    """The text box; `escape` here cancels the edit instead of leaving the lesson."""

    BINDINGS = [Binding("escape", "cancel", "cancel", show=False, id="lr.cancel")]

    class Cancelled(Message):
        pass

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled())


class LrField(Horizontal):
    """Label, input and a one-line message; posts Applied or Cancelled."""

    class Applied(Message):
        def __init__(self, lr: float) -> None:
            super().__init__()
            self.lr = lr

    class Cancelled(Message):
        pass

    def __init__(self, lang: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lang = lang
        self.editing = False
        self._lr: float | None = None
        self._message: tuple[str, dict, bool] | None = None  # key, values, is_error

    def compose(self) -> ComposeResult:
        yield Label(t("lr.label", self.lang), id="lr-label")
        field = LrInput(compact=True, id="lr-input", placeholder=t("lr.placeholder", self.lang))
        field.can_focus = False
        yield field
        yield Static("", id="lr-message")

    @property
    def input(self) -> LrInput:
        return self.query_one(LrInput)

    def show_lr(self, lr: float | None) -> None:
        """The lr in force (ignored while the learner is typing)."""
        if lr == self._lr:
            return
        self._lr = lr
        if not self.editing:
            self.input.value = format_lr(lr)

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        self.query_one("#lr-label", Label).update(t("lr.label", lang))
        self.input.placeholder = t("lr.placeholder", lang)
        self._render_message()

    def begin_edit(self) -> None:
        self.editing = True
        self.input.can_focus = True
        # Synchronously (Widget.focus() defers): keys typed right after `e`, already
        # queued behind it, must land in the field.
        self.screen.set_focus(self.input)
        self.input.select_all()
        self.add_class("-editing")

    def _end_edit(self) -> None:
        self.editing = False
        self.input.can_focus = False
        self.remove_class("-editing")
        self.screen.set_focus(None)

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

    @on(Input.Submitted, "#lr-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            lr = parse_lr(event.value)
        except LrRefused as refused:
            # Refused: keep editing so the learner can fix it; nothing changes.
            self.say(refused.key, is_error=True, text=refused.text)
            return
        self._lr = lr
        self.input.value = format_lr(lr)
        self._end_edit()
        self.say("lr.applied", lr=format_lr(lr))
        self.post_message(self.Applied(lr))

    @on(LrInput.Cancelled)
    def _cancelled(self, event: LrInput.Cancelled) -> None:
        event.stop()
        self.input.value = format_lr(self._lr)
        self._end_edit()
        self.say("lr.cancelled")
        self.post_message(self.Cancelled())
