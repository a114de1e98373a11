"""What the landscape costs: a 40x20 grid of lesson 05's own cost, against one
training iteration of the same lesson, and a free run with the tracker on vs off.

- grid: the cost slice of lesson 05's loop (`hypothesis = x_train * W + b`,
  `cost = torch.mean(...)`) evaluated at 40x20 (W, b) points by
  `engine/landscape.evaluate` (vmap, checked against one point alone), as the
  tracker does when the range changes; median of --repeat runs after one warm-up.
- update: a whole recomputation (grid, gradient at the point, Hessian → 2/λmax).
- iteration: lesson 05's 1000-epoch loop run bare (its cells exec'd in this
  thread, no engine), divided by 1000.
- free run: `Runner(landscape=True).run()` vs `Runner().run()` on lesson 05,
  alternating, timed from run() to done, median of the pair ratios: with the cost plot
  shown (the path is recorded, the surface computed at pauses) and with the landscape
  shown (`view="landscape"`: the surface follows the run a few times a second).
Target: grid <= 30 ms.

    .venv/bin/python bench/landscape.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_MS = 30.0


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up (vmap's first call builds its batching rules)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    import torch

    from tutor.engine import loader
    from tutor.engine.landscape import GRID_2D, evaluate
    from tutor.engine.runner import Runner

    torch.set_num_threads(1)
    lesson = loader.find_lesson("linear-regression", loader.bundled_lessons_dir())

    runner = Runner(lesson, landscape=True)
    runner.run_to_end()
    tracker = runner._run.landscape
    land = tracker.current(force=True)
    assert land is not None and [a.name for a in land.axes] == ["W", "b"], land
    assert (len(land.axes[0].values), len(land.axes[1].values)) == GRID_2D
    center = tracker._path_tensor()[-1]
    thetas = tracker._grid_thetas(tracker.specs, [a.values for a in land.axes], center).to(torch.float32)
    values = evaluate(tracker.f, thetas)
    assert len(values) == 800 and values == [v for row in land.cost for v in row], "grid differs"
    grid_ms = median_ms(lambda: evaluate(tracker.f, thetas), args.repeat)

    def update() -> None:
        tracker.grid = None  # force the grid, gradient and Hessian to be recomputed
        tracker.computed_points = -1
        tracker.current(force=True)

    update_ms = median_ms(update, args.repeat)

    cells = lesson.runnable_cells
    loop_cell = next(c for c in cells if "n_epochs = 1000" in c.source)
    iteration_times, pair_ratios = [], []
    for _ in range(max(5, args.repeat // 2)):  # a loop, then grids: one pair, one ratio
        ns: dict = {"__name__": "__main__", "print": lambda *a, **k: None}
        torch.manual_seed(lesson.seed)
        for cell in cells[:cells.index(loop_cell)]:
            exec(compile(cell.source, str(lesson.path), "exec"), ns)
        code = compile(loop_cell.source, str(lesson.path), "exec")
        start = time.perf_counter()
        exec(code, ns)
        iteration = (time.perf_counter() - start) / 1000
        iteration_times.append(iteration)
        pair_ratios.append(median_ms(lambda: evaluate(tracker.f, thetas), args.repeat) / 1000 / iteration)
    iteration_ms = statistics.median(iteration_times) * 1000

    def free_run(tracked: bool, view: str = "cost") -> float:
        r = Runner(lesson, landscape=tracked, view=view)
        start = time.perf_counter()
        r.run()
        while r.wait(30).status not in ("done", "error"):
            pass
        elapsed = time.perf_counter() - start
        r.close()
        return elapsed

    unshown, shown = [], []  # pair ratios: tracked / not
    runs = {"off": lambda: free_run(False), "on": lambda: free_run(True),
            "shown": lambda: free_run(True, "landscape")}
    for i in range(max(5, args.repeat // 2)):
        times = {name: runs[name]() for name in (list(runs) if i % 2 == 0 else list(runs)[::-1])}
        unshown.append(times["on"] / times["off"])
        shown.append(times["shown"] / times["off"])

    print(f"landscape grid: {grid_ms:.2f} ms (40x20 points of lesson 05's cost; target <= {TARGET_MS:.0f} ms)")
    print(f"landscape update (grid + gradient + Hessian): {update_ms:.1f} ms")
    print(f"one training iteration (lesson 05, bare): {iteration_ms:.3f} ms; grid / iteration: "
          f"{statistics.median(pair_ratios):.2g}x (median of pairs)")
    print(f"free run of lesson 05 with the landscape / without: {statistics.median(unshown):.2f} "
          f"(cost plot shown), {statistics.median(shown):.2f} (landscape shown)")
    return 0 if grid_ms <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
