"""Sections follow execution: a step in a later section runs the cells before it
(status "running to §k") and stops at its first cell; in an earlier section it goes
back there; `space` runs to the end of the section, `R` to the end of the lesson; the
code pane marks the line the next step runs, also below long wrapped lines."""

from __future__ import annotations

from .conftest import TINY, open_lesson, press_and_settle, screen_text, settled, wait_for
from .test_lesson_screen import reference_w

THREE = TINY + "\n## After | 다음\n\n```python\nprint(round(w.item(), 6))\n```\n"
# The same with a setup that sleeps 0.5 s: a run to a later section is under way that
# long, so the status line is seen saying so (the tiny cells alone can arrive first).
SLOW_THREE = THREE.replace("import torch\n", "import torch\nimport time\ntime.sleep(0.5)\n", 1)


def w_of(state):
    return next(v for v in state.tensors if v.name == "w").value[0]


async def test_n_in_a_later_section_runs_the_cells_before_it_and_stops_at_its_start(
        make_app, lessons_dir):
    (lessons_dir / "01-tiny.md").write_text(SLOW_THREE, encoding="utf-8")
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "right_square_bracket", "right_square_bracket",
                               "right_square_bracket")
        assert screen.section == 3
        await pilot.press("n")
        await wait_for(pilot, lambda: "running to §3" in screen.query_one("#status").render().plain,
                       what="running to §3")  # seen while the way there sleeps
        await wait_for(pilot, lambda: not screen.resuming and settled(screen), what="arrival")
        state = screen.runner.state
        assert screen.section == 3 and "running to" not in screen.query_one("#status").render().plain
        assert state.cells_done == (0, 1) and state.cell == 1 and state.line is None
        assert abs(w_of(state) - reference_w(5)) < 1e-6  # the loop ran in full, as plain torch
        code = screen_text(app)
        assert f"❱ {app.screen.lesson.cells[2].line}" in code.replace("  ", " ")  # next line marked
        await press_and_settle(pilot, screen, "n")
        assert screen.runner.state.outputs[2] == f"{round(reference_w(5), 6)}\n"
        # back to §1: its first cell again (a replay), nothing of §2 has run
        await press_and_settle(pilot, screen, "left_square_bracket", "left_square_bracket")
        assert screen.section == 1
        await pilot.press("n")
        await wait_for(pilot, lambda: not screen.resuming and settled(screen), what="back")
        state = screen.runner.state
        assert state.status == "idle" and screen.section == 1
        await press_and_settle(pilot, screen, "n")
        assert screen.runner.state.cells_done == (0,)


async def test_space_runs_to_the_end_of_the_section_and_R_to_the_end(make_app, lessons_dir):
    (lessons_dir / "01-tiny.md").write_text(THREE, encoding="utf-8")
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")  # §2: the loop
        await pilot.press("space")  # first to §2's start, then
        await wait_for(pilot, lambda: not screen.resuming and settled(screen), what="at §2")
        await pilot.press("space")
        await wait_for(pilot, lambda: settled(screen) and screen.runner.state.status == "paused"
                       and 1 in screen.runner.state.cells_done, what="end of §2")
        state = screen.runner.state
        assert state.cells_done == (0, 1) and len(state.costs) == 5 and screen.section == 2
        await pilot.press("R")
        await wait_for(pilot, lambda: settled(screen) and screen.runner.state.status == "done",
                       what="done")
        assert screen.runner.state.finished


async def test_the_marker_stays_in_view_below_wrapped_lines(make_app, lessons_dir):
    long = "x" * 70
    lines = "\n".join(f"a{i} = '{long}'" for i in range(12))
    (lessons_dir / "04-wrap.md").write_text(
        "---\nid: wrap\ntitle:\n  en: Wrap\n  ko: 줄바꿈\n---\n\n## Code | 코드\n\n```python\n"
        + lines + "\nlast = 1\n```\n", encoding="utf-8")
    app = make_app(lesson="wrap")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        for _ in range(13):
            await press_and_settle(pilot, screen, "s")
        line = screen.runner.state.line
        assert screen.lesson.cells[0].source.splitlines()[line - screen.lesson.cells[0].line] == "last = 1"
        await pilot.pause(0.2)
        assert f"❱ {line}" in screen_text(app).replace("  ", " ")
