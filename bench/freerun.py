"""Free-running speed in the app against the headless runner, for the same lesson.

Headless: `Runner(lesson).run_to_end()` in this process (what `tutor run` does).
App: a headless Textual app at 80x24 (the default path: its own zygote, the lesson in
a kernel process, checkpoints on) opens the lesson, `R` runs it to the end, and the
clock stops when the runner reports done; the screen refreshes from the runner's
state at its own rate meanwhile. UI and lesson no longer share a GIL, so the ratio
shows what the kernel (state messages, checkpoints) costs the run.
The two sides alternate in pairs (`r` resets the app's lesson between its runs);
the median of the pair ratios is printed. Target: ratio >= 0.9.

    .venv/bin/python bench/freerun.py [--pairs 9]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EPOCHS = 3000


def training_lesson(lesson_id: str, title_en: str, title_ko: str, epochs: int, lr: float) -> str:
    """A one-cell lesson training nn.Linear(3, 1) on 64 points with SGD (also used by
    bench/latency.py, whose loop runs for as long as the bench needs)."""
    return f"""\
---
id: {lesson_id}
title:
  en: {title_en}
  ko: {title_ko}
---

## Train | 훈련

```python
import torch
from torch import nn, optim

torch.manual_seed(0)
x_train = torch.randn(64, 3)
y_train = x_train @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
model = nn.Linear(3, 1)
lr = {lr}
optimizer = optim.SGD(model.parameters(), lr=lr)
for epoch in range({epochs}):
    hypothesis = model(x_train)
    cost = ((hypothesis - y_train) ** 2).mean()
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
```
"""


LESSON = training_lesson("bench-freerun", "Free-run benchmark", "자유 실행 벤치마크", EPOCHS, 0.01)


def headless(lesson) -> tuple[int, float]:
    from tutor.engine.runner import Runner

    runner = Runner(lesson)
    start = time.perf_counter()
    state = runner.run_to_end()
    seconds = time.perf_counter() - start
    runner.close()
    assert state.status == "done", state.error
    return len(state.costs), seconds


async def in_app(lessons_dir: Path, state_dir: Path, lesson, pairs: int) -> list[tuple[float, float]]:
    """(headless it/s, app it/s) per pair, the sides alternating."""
    from tutor.commands.app import build_app

    args = argparse.Namespace(lessons=str(lessons_dir), lang="en", lesson="bench-freerun", watch=False)
    app = build_app(args, progress_path=state_dir / "progress.json")
    results = []
    async with app.run_test(size=(80, 24)) as pilot:
        while getattr(app.screen, "runner", None) is None:
            await pilot.pause(0.05)
        runner = app.screen.runner
        runner.wait(60)  # connected

        async def app_run() -> float:
            await pilot.press("r")
            while runner.state.status != "idle" or runner._current is None or runner._current.conn is None:
                await asyncio.sleep(0.005)
            start = time.perf_counter()
            await pilot.press("R")
            while runner.state.status not in ("done", "error"):
                await asyncio.sleep(0.005)
            seconds = time.perf_counter() - start
            state = runner.state
            assert state.status == "done", state.error
            # reset at once: the kernel would start filling checkpoints behind the
            # learner 0.3 s later, on the core the headless side runs beside
            await pilot.press("r")
            return len(state.costs) / seconds

        def headless_run() -> float:
            n, seconds = headless(lesson)
            return n / seconds

        for i in range(pairs):
            if i % 2 == 0:
                h = headless_run()
                a = await app_run()
            else:
                a = await app_run()
                h = headless_run()
            results.append((h, a))
        await pilot.press("q")
    return results


def main(argv: list[str] | None = None) -> int:
    from tutor.engine.loader import load_lesson

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=9)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        lessons_dir = Path(tmp) / "lessons"
        lessons_dir.mkdir()
        path = lessons_dir / "01-bench.md"
        path.write_text(LESSON, encoding="utf-8")
        lesson = load_lesson(path)
        headless(lesson)  # warm up (first-call costs in torch)
        results = asyncio.run(in_app(lessons_dir, Path(tmp), lesson, options.pairs))
    ratio = statistics.median(a / h for h, a in results)
    print(f"headless run_to_end: {statistics.median(h for h, _ in results):,.0f} it/s (median of {len(results)})")
    print(f"app (R, 80x24, kernel process): {statistics.median(a for _, a in results):,.0f} it/s")
    print(f"ratio app / headless: {ratio:.2f} (target >= 0.9; median of the pair ratios)")
    return 0 if ratio >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
