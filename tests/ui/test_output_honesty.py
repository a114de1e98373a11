"""The output pane: the run's own output first; ✓/✗ only for a run with the lesson's
own lr and code, else a note with the expected text folded; a mismatch names its line."""

from __future__ import annotations

from .conftest import TINY, open_lesson, press_and_settle, screen_text


def left_pane(app) -> str:
    """The left column's text (prose, code, output), lines joined, spaces squeezed."""
    return " ".join(" ".join(line.split("│")[0] for line in screen_text(app).splitlines()).split())


async def test_another_lr_gives_a_note_instead_of_a_mark(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("e", *"0.5", "enter")
        await press_and_settle(pilot, screen, "n")
        text = left_pane(app)
        assert text.index("ready") < text.index("lesson's own lr; this run used 0.5")  # own output first
        assert "(expected: 1 lines, not compared)" in text
        assert "✓" not in text and "✗" not in text


async def test_a_mismatch_names_the_differing_line(make_app, lessons_dir):
    wrong = TINY.replace("```output\nready\n```", "```output\nready\nsteady\n```")
    (lessons_dir / "01-tiny.md").write_text(wrong, encoding="utf-8")
    app = make_app(lesson="tiny-fit", lang="ko")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n")
        text = left_pane(app)
        assert "✗ 예상 출력과 다릅니다" in text
        assert "2번째 줄: 예상 steady, 실제 없음" in text
        assert text.index("ready") < text.index("✗")
