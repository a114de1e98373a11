"""Step back near the end of a bundled 1000-epoch lesson: how long until it shows?

For each lesson, in the cell of its last training loop (lesson 10 has three
1000-epoch loops; this is the third; lesson 05 has one):

1. free-run pause: the lesson runs freely (`run()`) and `pause()` is asked for at
   epoch 980 (from the iteration event), so the run lands TAIL_POINTS epochs later;
   then `b` (`step_back()`): timed until `runner.state` shows the previous epoch,
   and until the background replay behind it has caught up;
2. deep step back: the history is cleared and `b` pressed again, so the runner must
   replay the lesson from a fresh namespace to that epoch (pause points only
   counted, nothing published): timed until the worker waits there, and divided by
   the bare run of the same cells (plain `exec`, up to the end of that loop);
3. after done: a free run to the end, then `b` (to the last loop's cell end or last
   epoch, kept during the free run): timed until it shows.

One run of each (a shared 2-core machine: read the ratios, not the milliseconds).
Target: (1) and (3) under 100 ms.

    .venv/bin/python bench/stepback.py [--lesson lessons/10-softmax-classifier.md ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LESSONS = ["lessons/10-softmax-classifier.md", "lessons/05-linear-regression.md"]
PAUSE_AT = 980
TIMEOUT = 60
TARGET = 0.1


def last_loop_cell(lesson) -> int:
    cells = [c for c in lesson.runnable_cells if "for epoch" in c.source]
    return cells[-1].index


def bare(lesson, through: int) -> float:
    """Seconds to exec the lesson's cells up to `through`, compiled normally."""
    import torch

    torch.manual_seed(lesson.seed)
    ns: dict = {"print": lambda *a, **k: None}
    start = time.perf_counter()
    for cell in lesson.runnable_cells:
        exec(compile(cell.source, str(lesson.path), "exec"), ns)
        if cell.index == through:
            break
    return time.perf_counter() - start


def until_shown(runner, target: int, start: float) -> float:
    while not (runner.state.pause_index == target and runner.state.status == "paused"):
        if time.perf_counter() - start > TIMEOUT:
            raise TimeoutError((runner.state.status, runner.state.pause_index))
        time.sleep(0.0002)
    return time.perf_counter() - start


def measure(path: Path) -> bool:
    from tutor.engine import events as ev
    from tutor.engine.loader import load_lesson
    from tutor.engine.runner import TAIL_POINTS, Runner

    lesson = load_lesson(path)
    loop_cell = last_loop_cell(lesson)
    runner_box: list = []
    armed = [True]

    def on_event(event) -> None:
        if armed[0] and isinstance(event, ev.Iteration) and event.cell == loop_cell and event.iteration == PAUSE_AT:
            armed[0] = False
            runner_box[0].pause()

    runner = Runner(lesson, on_event=on_event)
    runner_box.append(runner)
    ok = True
    try:
        runner.run()
        paused = runner.wait(TIMEOUT)
        assert paused.status == "paused" and paused.cell == loop_cell, (paused.status, paused.cell)
        # iteration PAUSE_AT is recorded when PAUSE_AT + 1 starts; TAIL_POINTS points from there
        assert paused.iteration == PAUSE_AT + TAIL_POINTS, paused.iteration

        target = runner.back_target()
        start = time.perf_counter()
        runner.step_back()
        shown = until_shown(runner, target, start)
        from_history = runner._run.silent_arrival
        runner.wait(TIMEOUT)
        caught_up = time.perf_counter() - start
        assert runner.state.iteration == paused.iteration - 1

        runner.clear_history()
        target = runner.back_target()
        start = time.perf_counter()
        runner.step_back()
        deep = runner.wait(TIMEOUT)
        replay = time.perf_counter() - start
        assert deep.pause_index == target and deep.iteration == paused.iteration - 2, (deep.pause_index, deep.iteration)
        base = bare(lesson, loop_cell)

        runner.reset()
        runner.run()
        done = runner.wait(TIMEOUT)
        assert done.status == "done", (done.status, done.iteration)
        target = runner.back_target()
        start = time.perf_counter()
        runner.step_back()
        after_done = until_shown(runner, target, start)
        done_from_history = runner._run.silent_arrival
        runner.wait(TIMEOUT)
    finally:
        runner.close()

    print(f"{path.name} (loop in cell {loop_cell + 1}, paused at epoch {paused.iteration}):")
    print(f"  b after a free-run pause: shown after {shown * 1000:.2f} ms "
          f"({'from the history' if from_history else 'by replay'}); "
          f"replay behind it caught up after {caught_up * 1000:.0f} ms")
    print(f"  deep step back by replay: {replay * 1000:.0f} ms; bare run of the same cells "
          f"{base * 1000:.0f} ms; ratio {replay / base:.2f}")
    print(f"  b after the free run is done: shown after {after_done * 1000:.2f} ms "
          f"({'from the history' if done_from_history else 'by replay'})")
    for name, value in (("b after pause", shown), ("b after done", after_done)):
        if value >= TARGET:
            print(f"  MISSED: {name} took {value * 1000:.0f} ms (target < {TARGET * 1000:.0f} ms)")
            ok = False
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", action="append", type=Path,
                        help="lesson file (default: lessons 10 and 05)")
    args = parser.parse_args(argv)
    import torch

    from tutor.engine.runner import TORCH_THREADS

    if TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)
    paths = args.lesson or [ROOT / p for p in LESSONS]
    ok = all([measure(Path(p)) for p in paths])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
