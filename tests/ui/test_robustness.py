"""Issue 7, in the app: what a learner or a teacher can throw at it, it survives.

Each test ends by checking the app still answers keys, because "no exception" is not
enough: a lesson screen whose refresh timer died looks alive and does nothing.
(The lr field's refusals of `abc`, ``, `-1`, `0`, `nan`, `inf`, `1e400`, `0x10` and
Korean text are tested in test_lesson_screen.py and test_widgets.py.)
"""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

from rich.console import Console
from textual.widgets import OptionList

from tutor.engine.loader import bundled_lessons_dir
from tutor.ui.screens.lesson import LessonScreen
from tutor.ui.screens.picker import PickerScreen
from tutor.ui.widgets.cost_plot import CostPlot
from tutor.ui.widgets.tensor_table import TensorTable

from .conftest import open_lesson, press_and_settle, screen_text, settled, wait_for

LOUD = """\
---
id: loud
title:
  en: Loud
  ko: 시끄러운
---

## Print | 출력

```python
for i in range(3):
    print("x" * 1_000_000)
print("the end")
```

```python
print("after")
```
"""

FOREVER = """\
---
id: forever
title:
  en: Forever
  ko: 영원히
---

## Loop | 반복

```python
n = 0
while True:
    n += 1
```
"""

FOREVER_INNER = """\
---
id: forever-inner
title:
  en: Forever inside
  ko: 안에서 영원히
---

## Loop | 반복

```python
def spin():
    while True:
        pass

spin()
```
"""


def plain(renderable) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def flat(value) -> list[float]:
    if value is None:
        return []
    if isinstance(value, list):
        return [x for v in value for x in flat(v)]
    return [value]


async def still_responsive(pilot, screen):
    """Reset and take one step: the keys and the refresh timer still work."""
    await press_and_settle(pilot, screen, "r")
    assert screen.runner.state.status == "idle"
    await press_and_settle(pilot, screen, "n")
    assert screen.runner.state.status in ("paused", "done")
    await pilot.press("l")
    await pilot.pause(0.1)
    assert pilot.app.lang == "ko"
    await pilot.press("l")


async def test_huge_lr_on_a_bundled_lesson_diverges_visibly_and_keys_still_work(make_app):
    app = make_app(lesson="gradient-descent", lessons=bundled_lessons_dir())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("e", "backspace", *"10", "enter")
        await wait_for(pilot, lambda: screen.runner.state.lr_override == 10.0, what="lr 10")
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.runner.state.divergence is not None, 60, "the divergence pause")
        await wait_for(pilot, lambda: settled(screen), 30)
        # It paused before the cost turned non-finite; continuing (space, once for each
        # pause: the growth, the last finite iteration) runs into the non-finite values.
        for _ in range(4):
            if any(not math.isfinite(p.cost) for p in screen.runner.state.costs):
                break
            before = screen.runner.state
            await pilot.press("space")
            await wait_for(pilot, lambda: screen.runner.state is not before
                           and screen.runner.state.status != "running" and settled(screen), 60)
        state = screen.runner.state
        assert state.status != "running" and state.nonfinite is not None
        assert any(not math.isfinite(p.cost) for p in state.costs)
        assert any(not all(map(math.isfinite, flat(t.value))) for t in state.tensors)
        text = screen_text(app)
        assert "learning rate is probably too large" in text
        # the plot drew the finite points and the table shows the non-finite values
        plot_text = screen.query_one(CostPlot).render().plain
        assert "┤" in plot_text
        table_text = plain(screen.query_one(TensorTable).content)
        assert "nan" in table_text.lower() or "inf" in table_text.lower()
        await pilot.press("g")  # log scale over the same non-finite costs
        await pilot.pause(0.2)
        assert "[log]" in screen.query_one(CostPlot).render().plain
        await pilot.press("g")
        await pilot.press("l")
        await pilot.pause(0.2)
        assert "학습률이 너무 큰" in screen_text(app)
        await pilot.press("l")
        await still_responsive(pilot, screen)
        assert screen.runner.state.lr_override == 10.0  # reset keeps the learner's lr


async def test_megabytes_of_output_are_truncated_with_a_note(make_app, lessons_dir):
    (lessons_dir / "04-loud.md").write_text(LOUD, encoding="utf-8")
    app = make_app(lesson="loud")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.runner.state.status == "done", 60, "the run")
        await wait_for(pilot, lambda: settled(screen))
        assert screen.runner.state.output_truncated
        # the engine kept the tail only: far less than the 3 MB printed
        assert sum(map(len, screen.runner.state.outputs.values())) < 300_000
        await press_and_settle(pilot, screen, "r")
        await press_and_settle(pilot, screen, "n")  # the loud cell's first iteration
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.runner.state.status == "done", 60, "the run")
        await wait_for(pilot, lambda: settled(screen))
        text = screen_text(app)
        assert "after" in text or "truncated" in text
        await still_responsive(pilot, screen)


async def test_the_output_pane_says_when_it_shows_only_the_tail(make_app, lessons_dir):
    """Megabytes in one cell: the pane's visible note says part is missing."""
    one_cell = LOUD[: LOUD.index('```python\nprint("after")')]
    (lessons_dir / "04-loud.md").write_text(one_cell, encoding="utf-8")
    app = make_app(lesson="loud")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.runner.state.status == "done", 60, "the run")
        await wait_for(pilot, lambda: settled(screen))
        assert "(output truncated)" in screen_text(app)


async def _reset_stops_within_one_second(make_app, lessons_dir, text: str, lesson_id: str):
    (lessons_dir / f"04-{lesson_id}.md").write_text(text, encoding="utf-8")
    app = make_app(lesson=lesson_id)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.runner.state.status == "running", what="running")
        # well inside the loop: the kernel shows its cell (published by the worker, or
        # read from the kernel's cell file when a function loop publishes nothing),
        # where a fixed pause could end before the kernel even started the cell
        await wait_for(pilot, lambda: screen.runner.state.cell == 0, what="the loop's cell")
        assert screen.runner.state.status == "running"
        start = time.monotonic()
        await pilot.press("r")
        while screen.runner.state.status != "idle" and time.monotonic() - start < 5:
            await pilot.pause(0.01)
        elapsed = time.monotonic() - start  # (wait_for would add its own settling pause)
        print(f"reset of {lesson_id} stopped it in {elapsed * 1000:.0f} ms")
        assert elapsed < 1.0, f"reset took {elapsed:.2f} s"
        await wait_for(pilot, lambda: settled(screen))
        assert "idle" in screen.query_one("#status").render().plain or screen.runner.state.status == "idle"
        # keys still work: a step into the loop pauses (statement points inside `while`)
        await press_and_settle(pilot, screen, "s")
        assert screen.runner.state.status == "paused"
        await press_and_settle(pilot, screen, "r")
        await pilot.press("q")
        assert isinstance(app.screen, PickerScreen)
    return elapsed


async def test_reset_stops_an_infinite_top_level_loop_within_one_second(make_app, lessons_dir):
    await _reset_stops_within_one_second(make_app, lessons_dir, FOREVER, "forever")


async def test_reset_stops_an_infinite_loop_inside_a_function_within_one_second(make_app, lessons_dir):
    """No pause point inside a function body: the engine must still get out."""
    await _reset_stops_within_one_second(make_app, lessons_dir, FOREVER_INNER, "forever-inner")


async def test_invalid_lesson_files_are_named_with_their_line_and_valid_ones_load(make_app, lessons_dir):
    (lessons_dir / "04-not-utf8.md").write_bytes(b"---\nid: x\ntitle: \xff\n---\n")
    (lessons_dir / "05-bad-yaml.md").write_text(
        "---\nid: bad-yaml\ntitle: [unclosed\n---\n", encoding="utf-8")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        text = screen_text(app)
        for line in app.errors:
            assert line.split(":")[1].isdigit(), line  # path:LINE: message
        assert any(e.startswith("04-not-utf8.md:3:") for e in app.errors), app.errors
        assert any(e.startswith("05-bad-yaml.md:") for e in app.errors), app.errors
        assert "04-not-utf8.md:3" in text and "05-bad-yaml.md" in text
        assert [o.id for o in app.screen.query_one(OptionList)._options] == ["tiny-fit", "broken", "diverge"]
        await pilot.press("enter")
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n")
        assert "ready" in screen.runner.state.outputs[0]


async def test_resize_down_to_40x12_and_back_keeps_the_state(make_app):
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await pilot.press("e", "backspace", *"0.05", "enter")
        await press_and_settle(pilot, screen, "n", "n", "n", "n")
        before = screen.runner.state
        assert before.lr_override == 0.05 and len(before.costs) == 2
        await pilot.resize_terminal(40, 12)
        await pilot.pause(0.3)
        small = screen_text(app)
        assert len(small.splitlines()) == 12
        notes = [str(n.message) for n in app._notifications]
        assert any("40x12: make it larger (80x24)" in n for n in notes), notes
        await press_and_settle(pilot, screen, "n")  # keys still work while small
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        after = screen.runner.state
        assert after.lr_override == 0.05
        assert len(after.costs) == 3 and after.costs[:2] == before.costs
        assert "0.05" in screen.query_one("#status").render().plain
        await still_responsive(pilot, screen)


async def test_resize_in_the_picker_keeps_the_highlight(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "down")
        await pilot.resize_terminal(40, 12)
        await pilot.pause(0.2)
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        assert app.screen.query_one(OptionList).highlighted == 2
        await pilot.press("up", "enter")
        assert isinstance(app.screen, LessonScreen) and app.screen.lesson.id == "broken"


async def test_corrupt_progress_file_is_set_aside_with_a_message(make_app, progress_path):
    progress_path.parent.mkdir(parents=True, exist_ok=True)
    progress_path.write_text('{"version": 1, "lessons": {', encoding="utf-8")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        notes = [str(n.message) for n in app._notifications]
        assert any("progress" in n.lower() for n in notes), notes
        assert not progress_path.exists()  # set aside under another name
        aside = [p for p in progress_path.parent.iterdir() if p.name != "progress.json"]
        assert aside and aside[0].read_text(encoding="utf-8") == '{"version": 1, "lessons": {'
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("enter")
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n")
        await pilot.press("q")
    assert json.loads(progress_path.read_text())["last_lesson"] == "tiny-fit"


async def test_x_in_the_picker_resets_the_highlighted_lessons_progress(make_app, progress_path):
    from tutor.progress import Progress

    progress = Progress.load(progress_path)
    for lesson_id in ("tiny-fit", "broken"):
        progress.mark_finished(lesson_id)
        progress.set_position(lesson_id, 1, 0)
    progress.save()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        await pilot.press("up", "down")  # to "tiny-fit" and back to "broken"
        assert picker.highlighted_lesson().id == "broken"
        await pilot.press("x")
        await pilot.pause(0.1)
        notes = [str(n.message) for n in app._notifications]
        assert any("Broken lesson" in n for n in notes), notes
        assert "broken" not in app.progress.finished
        assert "tiny-fit" in app.progress.finished
        assert app.screen is picker
    saved = json.loads(Path(progress_path).read_text())
    assert "broken" not in saved["lessons"] or not saved["lessons"]["broken"].get("finished")
    assert "tiny-fit" in saved["lessons"]


# ------------------------------------------------------------------ memory


def test_prose_fences_without_a_language_are_never_guessed(monkeypatch):
    """Guessing imports all of Pygments' lexers (14 MB of the app's peak RSS)."""
    import textual.highlight

    from tutor.ui.widgets.prose import PlainFence, Prose

    def guess(*_args, **_kwargs):
        raise AssertionError("guess_language was called")

    monkeypatch.setattr(textual.highlight, "guess_language", guess)
    assert PlainFence.highlight("Epoch    0/1000 Cost: 1.098612", "").plain.startswith("Epoch")
    assert "x = 1" in PlainFence.highlight("x = 1", "python").plain  # named: still highlighted
    assert Prose.BLOCKS["fence"] is PlainFence and Prose.BLOCKS["code_block"] is PlainFence


async def test_lesson_prose_with_a_plain_fence_shows_it(make_app, lessons_dir, monkeypatch):
    import textual.highlight

    monkeypatch.setattr(textual.highlight, "guess_language",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("guessed")))
    text = (lessons_dir / "01-tiny.md").read_text(encoding="utf-8")
    (lessons_dir / "01-tiny.md").write_text(
        text.replace("We fit one weight so that 2 * w is 4.\n",
                     "We fit one weight so that 2 * w is 4.\n\n```\nw ← w - lr · grad\n```\n"),
        encoding="utf-8")
    app = make_app(lesson="tiny-fit")
    async with app.run_test(size=(80, 24)) as pilot:
        # the prose's Markdown mounts its blocks asynchronously: waited for, not 0.3 s
        await wait_for(pilot, lambda: "w ← w - lr · grad" in screen_text(app), what="the fenced prose")
