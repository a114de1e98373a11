"""Deep step back in the kernel: from epoch 990 of a lesson's last loop to epoch 10.

For lessons 10 and 05, in the cell of the last training loop (lesson 10 has three
1000-epoch loops; this is the third; lesson 05 has one), through `KernelClient`s
forked from one zygote, as the app runs them:

- checkpoints (the app's default): `goto_cell` to the loop's cell, run until epoch
  990, then `jump(10)`, timed until the state at epoch 10 is shown and the kernel
  waits there. The kernel resumes from the nearest checkpoint <= that point (here
  the one at the end of the cell before the loop) and replays 10 epochs.
- bare replay (checkpoints off): the same, where the Runner replays the lesson from
  a fresh namespace to epoch 10 (what a deep step back did before checkpoints).

The two sides alternate in pairs (the same machine load for both); each pair runs
the step back once on each side, then jumps forward to 990 again. Printed per lesson:
the median time with checkpoints and the median of the pair ratios
checkpoint / bare replay. Target: deep step back < 50 ms. Then, with checkpoints,
step backs from epoch 990 to epochs 100, 200, ..., 900, once each: their median and
the slowest (no target: how far the nearest checkpoint is depends on the spacing).

    .venv/bin/python bench/stepback.py [--pairs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LESSONS = ["lessons/10-softmax-classifier.md", "lessons/05-linear-regression.md"]
FAR, NEAR = 990, 10
MIDDLE = range(100, 1000, 100)
TIMEOUT = 60
TARGET = 0.05


def last_loop_cell(lesson) -> int:
    cells = [c for c in lesson.runnable_cells if "for epoch" in c.source]
    return cells[-1].index


def settle(client, what: str):
    state = client.wait(TIMEOUT)
    if state.status != "paused":
        raise SystemExit(f"{what}: {state.status} {state.error}")
    return state


def at_far(client, loop_cell: int) -> None:
    client.goto_cell(loop_cell)
    settle(client, "goto_cell")
    client.run_until(str(FAR))
    state = settle(client, "run until")
    assert state.iteration == FAR and state.cell == loop_cell, (state.iteration, state.cell)


def step_back(client, to: int = NEAR) -> float:
    start = time.perf_counter()
    client.jump(to)
    state = client.wait(TIMEOUT)
    seconds = time.perf_counter() - start
    assert state.status == "paused" and state.iteration == to, (state.status, state.iteration)
    return seconds


def within_the_loop(client) -> dict[int, float]:
    """Step backs from epoch FAR to each of MIDDLE: where the nearest checkpoint is an
    iteration checkpoint of the run, or the cell end before the loop (the spacing of
    iteration checkpoints grows with what a fork costs: checkpoints.py)."""
    times = {}
    for to in MIDDLE:
        times[to] = step_back(client, to)
        client.jump(FAR)
        settle(client, "jump forward")
    return times


def measure(host, path: Path, pairs: int) -> bool:
    from tutor.engine.kernel.client import KernelClient
    from tutor.engine.loader import load_lesson

    lesson = load_lesson(path)
    loop_cell = last_loop_cell(lesson)
    sides = {True: KernelClient(host, lesson), False: KernelClient(host, lesson, checkpoints=False)}
    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for client in sides.values():
            at_far(client, loop_cell)
        time.sleep(0.5)  # the checkpoints made on the way have connected
        checkpoints = len(sides[True].checkpoints)
        for n in range(pairs):
            order = (True, False) if n % 2 == 0 else (False, True)
            for side in order:
                times[side].append(step_back(sides[side]))
                sides[side].jump(FAR)  # forward again for the next pair
                settle(sides[side], "jump forward")
        middle = within_the_loop(sides[True])
    finally:
        for client in sides.values():
            client.close()
    deep = statistics.median(times[True])
    ratio = statistics.median(a / b for a, b in zip(times[True], times[False]))
    print(f"deep step back: {deep * 1000:.0f} ms ({path.name}, epoch {FAR} → {NEAR} of the loop in cell "
          f"{loop_cell + 1}; median of {pairs}; {checkpoints} checkpoints)")
    print(f"  bare replay it replaces: {statistics.median(times[False]) * 1000:.0f} ms; "
          f"ratio checkpoint / bare replay: {ratio:.2f}")
    slowest = max(middle, key=middle.get)
    print(f"  step back from epoch {FAR} to epochs {MIDDLE.start}..{MIDDLE.stop - MIDDLE.step}: median "
          f"{statistics.median(middle.values()) * 1000:.0f} ms, slowest {middle[slowest] * 1000:.0f} ms "
          f"(to epoch {slowest})")
    if deep >= TARGET:
        print(f"  MISSED: {deep * 1000:.0f} ms (target < {TARGET * 1000:.0f} ms)")
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7)
    args = parser.parse_args(argv)
    from tutor.engine.kernel.host import KernelHost

    host = KernelHost()
    try:
        if not host.ready.wait(TIMEOUT):
            raise SystemExit("the zygote did not start")
        ok = all([measure(host, ROOT / p, args.pairs) for p in LESSONS])
    finally:
        host.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
