"""The section's hints, revealed one at a time.

A lesson section may carry hints (`Section.hints`). The lesson screen gives the panel
the current section and its hints (`show_section`) and calls `reveal_next()` on `h`.
Each call shows one more hint under a "hint 2/3" counter; past the last one, or in a
section without hints, the panel says so. Moving to another section hides them all
again. The panel is hidden (class `-empty`) until there is something to show.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.text import Text as RichText
from textual.reactive import reactive
from textual.widget import Widget

from tutor.engine.lesson import Text
from tutor.ui.i18n import t




class HintsPanel(Widget):
    """Hints of one section; `revealed` of them are shown."""

    DEFAULT_CSS = """
    HintsPanel {
        height: auto;
        padding: 0 1;
        border-left: thick $warning;
    }
    HintsPanel.-empty {
        display: none;
    }
    """

    hints: reactive[tuple[Text, ...]] = reactive((), layout=True)
    lang: reactive[str] = reactive("en", layout=True)
    section: reactive[int | None] = reactive(None)
    revealed: reactive[int] = reactive(0, layout=True)
    # "no_more" / "none" after `h` found nothing new to show, else ""
    notice: reactive[str] = reactive("", layout=True)

    def __init__(self, hints: tuple[Text, ...] = (), lang: str = "en", **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_reactive(HintsPanel.hints, tuple(hints))
        self.set_reactive(HintsPanel.lang, lang)
        self._update_empty()

    def show_section(self, section: int, hints: tuple[Text, ...]) -> None:
        """Switch to `section`; hides revealed hints only when the section changed,
        so calling it on every refresh is harmless."""
        if section != self.section:
            self.section = section
            self.hints = tuple(hints)
            self.reset()
        elif tuple(hints) != self.hints:
            self.hints = tuple(hints)

    def reset(self) -> None:
        self.revealed = 0
        self.notice = ""

    def reveal_next(self) -> bool:
        """Show one more hint; False (and a notice) when there is none left."""
        if self.revealed < len(self.hints):
            self.revealed += 1
            self.notice = ""
            return True
        self.notice = "no_more" if self.hints else "none"
        return False

    def watch_hints(self, old: tuple[Text, ...], new: tuple[Text, ...]) -> None:
        if self.revealed > len(new):
            self.revealed = len(new)
        self._update_empty()

    def watch_revealed(self) -> None:
        self._update_empty()

    def watch_notice(self) -> None:
        self._update_empty()

    def _update_empty(self) -> None:
        self.set_class(self.revealed == 0 and not self.notice, "-empty")

    def render(self) -> RenderableType:
        parts: list[RenderableType] = []
        total = len(self.hints)
        for number, hint in enumerate(self.hints[: self.revealed], start=1):
            parts.append(
                RichText(t("hints.counter", self.lang, number=number, total=total), style="bold")
            )
            parts.append(Markdown(hint.get(self.lang)))
        if self.notice:
            parts.append(RichText(t(f"hints.{self.notice}", self.lang), style="italic"))
        return Group(*parts)
