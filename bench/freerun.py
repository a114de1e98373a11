"""Free-running speed in the app against the headless runner, for the same lesson.

Headless: `Runner(lesson).run_to_end()` in this thread (what `tutor run` does).
App: a headless Textual app at 80x24 opens the lesson, `space` is pressed, and the
clock stops when the runner reports done; the screen refreshes from the runner's
state at its own rate meanwhile, so the ratio shows what the UI costs the engine.
Target: ratio >= 0.5. Iterations counted are the recorded cost points.

    .venv/bin/python bench/freerun.py
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EPOCHS = 3000
LESSON = f"""\
---
id: bench-freerun
title:
  en: Free-run benchmark
  ko: 자유 실행 벤치마크
---

## Train | 훈련

```python
import torch
from torch import nn, optim

torch.manual_seed(0)
x_train = torch.randn(64, 3)
y_train = x_train @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
model = nn.Linear(3, 1)
lr = 0.01
optimizer = optim.SGD(model.parameters(), lr=lr)
for epoch in range({EPOCHS}):
    hypothesis = model(x_train)
    cost = ((hypothesis - y_train) ** 2).mean()
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
```
"""


def headless(lesson) -> tuple[int, float]:
    from tutor.engine.runner import Runner

    runner = Runner(lesson)
    start = time.perf_counter()
    state = runner.run_to_end()
    seconds = time.perf_counter() - start
    runner.close()
    assert state.status == "done", state.error
    return len(state.costs), seconds


async def in_app(lessons_dir: Path, state_dir: Path) -> tuple[int, float]:
    from tutor.commands.app import build_app

    args = argparse.Namespace(lessons=str(lessons_dir), lang="en", lesson="bench-freerun", watch=False)
    app = build_app(args, progress_path=state_dir / "progress.json")
    async with app.run_test(size=(80, 24)) as pilot:
        while getattr(app.screen, "runner", None) is None:
            await pilot.pause(0.05)
        runner = app.screen.runner
        start = time.perf_counter()
        await pilot.press("space")
        while runner.state.status not in ("done", "error"):
            await asyncio.sleep(0.005)
        seconds = time.perf_counter() - start
        state = runner.state
        assert state.status == "done", state.error
        await pilot.press("q")
    return len(state.costs), seconds


def main() -> int:
    from tutor.engine.loader import load_lesson

    with tempfile.TemporaryDirectory() as tmp:
        lessons_dir = Path(tmp) / "lessons"
        lessons_dir.mkdir()
        path = lessons_dir / "01-bench.md"
        path.write_text(LESSON, encoding="utf-8")
        lesson = load_lesson(path)
        headless(lesson)  # warm up (first-call costs in torch)
        n_h, s_h = headless(lesson)
        n_a, s_a = asyncio.run(in_app(lessons_dir, Path(tmp)))
    ips_h, ips_a = n_h / s_h, n_a / s_a
    print(f"headless run_to_end: {n_h} iterations in {s_h:.3f} s = {ips_h:,.0f} it/s")
    print(f"app (space, 80x24): {n_a} iterations in {s_a:.3f} s = {ips_a:,.0f} it/s")
    ratio = ips_a / ips_h
    print(f"ratio app / headless: {ratio:.2f} (target >= 0.5)")
    return 0 if ratio >= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
