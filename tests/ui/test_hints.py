"""HintsPanel in a tiny host app: one hint per `h`, counters, notices, resets."""

from __future__ import annotations

import io

from rich.console import Console
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from tutor.engine.lesson import Text
from tutor.ui.widgets.hints import HintsPanel

SECTION_1 = (
    Text("Look at `w.grad`.", "`w.grad`를 보세요."),
    Text("The gradient points uphill.", "기울기는 오르막을 가리킵니다."),
    Text.both("`w -= lr * w.grad`"),
)
SECTION_2 = (Text("Try a smaller lr.", "더 작은 학습률을 써 보세요."),)


class Host(App[None]):
    BINDINGS = [Binding("h", "hint", "Hint")]

    def compose(self) -> ComposeResult:
        yield Static("above", id="above")
        yield HintsPanel(id="hints")

    def on_mount(self) -> None:
        self.query_one(HintsPanel).show_section(1, SECTION_1)

    def action_hint(self) -> None:
        self.query_one(HintsPanel).reveal_next()


def shown(panel: HintsPanel) -> str:
    console = Console(width=60, record=True, file=io.StringIO())
    console.print(panel.render())
    return console.export_text()


async def test_reveals_one_hint_per_press_with_counter() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(HintsPanel)
        await pilot.pause()
        assert panel.has_class("-empty") and panel.region.height == 0
        await pilot.press("h")
        await pilot.pause()
        text = shown(panel)
        assert "hint 1/3" in text and "w.grad" in text
        assert "hint 2/3" not in text and "uphill" not in text
        assert not panel.has_class("-empty") and panel.region.height >= 2
        await pilot.press("h", "h")
        await pilot.pause()
        text = shown(panel)
        assert [t in text for t in ("hint 1/3", "hint 2/3", "hint 3/3", "uphill")] == [True] * 4
        assert "No more hints" not in text
        await pilot.press("h")
        await pilot.pause()
        assert panel.revealed == 3
        assert "No more hints in this section." in shown(panel)


async def test_language_switch_rerenders_revealed_hints() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(HintsPanel)
        await pilot.press("h", "h", "h", "h")
        panel.lang = "ko"
        await pilot.pause()
        text = shown(panel)
        assert "힌트 2/3" in text and "오르막" in text
        assert "이 절에는 더 이상 힌트가 없습니다." in text
        assert "uphill" not in text


async def test_section_change_resets_and_same_section_does_not() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(HintsPanel)
        await pilot.press("h", "h")
        panel.show_section(1, SECTION_1)  # the screen may call this on every refresh
        assert panel.revealed == 2
        panel.show_section(2, SECTION_2)
        await pilot.pause()
        assert panel.revealed == 0 and panel.has_class("-empty")
        await pilot.press("h")
        await pilot.pause()
        assert "hint 1/1" in shown(panel) and "smaller lr" in shown(panel)


async def test_section_without_hints_says_so() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(HintsPanel)
        panel.show_section(3, ())
        panel.lang = "ko"
        await pilot.press("h")
        await pilot.pause()
        assert panel.revealed == 0
        assert not panel.has_class("-empty")
        assert "이 절에는 힌트가 없습니다." in shown(panel)
        panel.lang = "en"
        assert "This section has no hints." in shown(panel)
        panel.show_section(4, ())  # another empty section: the notice goes away
        await pilot.pause()
        assert panel.has_class("-empty") and shown(panel).strip() == ""


async def test_reveal_next_reports_whether_it_showed_one() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)):
        panel = app.query_one(HintsPanel)
        panel.show_section(2, SECTION_2)
        assert panel.reveal_next() is True
        assert panel.reveal_next() is False
        assert panel.notice == "no_more"
