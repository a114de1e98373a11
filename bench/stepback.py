"""Step back at the end of a 1000-epoch loop: how long until the learner sees it?

Lesson: the softmax classifier of bench/overhead.py (1001 epochs). The runner is
brought to the iteration point of epoch 1000 with `next()`, then:

1. replay: one statement back, `goto(pause_index - 1)`, a point the runner never
   paused at, so it must re-execute the lesson from a fresh namespace up to there
   (pause points only counted, nothing published) - timed until the worker waits
   there; printed with its ratio to the bare run of the same code;
2. history: one step forward and one back again: that point was shown before, so
   `goto` shows it at once from the runner's history (timed until `runner.state`
   is the target) while the replay catches up in the background (also timed).

Target: under 100 ms until the learner sees the previous point.

    .venv/bin/python bench/stepback.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import overhead  # noqa: E402  (bench/overhead.py: the lesson and the bare run)


def to_last_epoch(runner) -> None:
    runner.next()  # setup cell
    runner.wait(30)
    while True:
        runner.next()
        state = runner.wait(30)
        if state.iteration == 1000 or state.status != "paused":
            break
    assert state.iteration == 1000, state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    import torch

    from tutor.engine.runner import TORCH_THREADS, Runner

    if TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)
    replay, shown, caught_up, bare = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        lesson = overhead.load(overhead.write_lesson(Path(tmp)))
        runner = Runner(lesson)
        try:
            to_last_epoch(runner)
            at = runner.state.pause_index
            overhead.bare()
            for _ in range(args.repeat):
                bare.append(overhead.bare())
                runner.clear_history()  # force a real replay
                start = time.perf_counter()
                runner.goto(at - 1)
                state = runner.wait(60)
                replay.append(time.perf_counter() - start)
                assert state.pause_index == at - 1 and state.iteration == 999, state

                runner.step()  # forward to epoch 1000's iteration point...
                runner.wait(60)
                start = time.perf_counter()
                runner.goto(at - 1)  # ...and back: this point was shown before
                while runner.state.pause_index != at - 1:
                    time.sleep(0.0001)
                shown.append(time.perf_counter() - start)
                runner.wait(60)
                caught_up.append(time.perf_counter() - start)
                runner.step()
                runner.wait(60)
        finally:
            runner.close()
    b = statistics.median(bare)
    r = statistics.median(replay)
    print(f"bare run of the lesson code: {b * 1000:.1f} ms")
    print(f"step back by replay: {r * 1000:.1f} ms (ratio to bare: {r / b:.2f})")
    print(f"step back to a point shown before: visible after {statistics.median(shown) * 1000:.2f} ms, "
          f"replay caught up after {statistics.median(caught_up) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
