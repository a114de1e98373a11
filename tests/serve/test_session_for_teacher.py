"""The app writes what `tutor class` shows, as it happens: the section the learner is
in, runs that diverged, how close predictions were. Checked in the file on disk."""

from __future__ import annotations

import math
import time

from tutor.engine import loader
from tutor.engine.prediction import closeness
from tutor.progress import Progress
from tutor.session import LessonSession, RunArchive

LESSON = """\
---
id: teach
title:
  en: Teacher's view
  ko: 교사 보기
---

## Print | 출력

```python
x = 3
print(x * 2)
print("done")
```

## Train | 학습

```python
w = 1.0
lr = 0.1
for epoch in range(200):
    cost = w * w
    w -= lr * 2 * w
```
"""


def test_closeness_pairs_non_blank_lines_like_the_prediction_view():
    assert closeness("6\n\ndone\n", "6\ndone\n") == (2, 2)
    assert closeness("6.00001\n", "6.0\n") == (1, 1)  # numbers as `check --run` compares
    assert closeness("6\nnope\nextra\n", "6\ndone\n") == (1, 3)
    assert closeness("", "") == (0, 0)


def _settle(session, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        session.runner.wait(timeout)
        state = session.tick()
        if state.status != "running" and not session.resuming and not session.queued \
                and session.runner.wait(timeout) is state:
            session.observe(state)
            return state
        assert time.monotonic() < deadline, "the runner did not settle"
        time.sleep(0.01)


def test_sections_divergences_and_predictions_reach_the_progress_file(tmp_path):
    from tutor.engine.runner import Runner

    path = tmp_path / "01-teach.md"
    path.write_text(LESSON, encoding="utf-8")
    lesson = loader.load_lesson(path)
    progress_path = tmp_path / "kim" / "progress.json"
    session = LessonSession(lesson, Progress.load(progress_path), RunArchive())
    session.attach(lambda lesson, lr: Runner(lesson, lr_override=lr))
    session.predict(0, "6\nnope\n")
    session.next()  # cell 0 runs and prints "6\ndone"
    _settle(session)
    on_disk = Progress.load(progress_path)
    assert on_disk.predictions("teach") == {0: {"matched": 1, "lines": 2}}
    assert on_disk.last_lesson == "teach" and on_disk.position("teach")["section"] == 1

    session.set_lr(5.0)  # |1 - 2*5| = 9 per epoch: w*w overflows to inf
    session.run_all()
    state = _settle(session)
    assert state.divergence is not None  # paused before the cost overflows (issue 18)
    session.run()  # on past the pause: the cost overflows, still the same run
    state = _settle(session)
    session.observe(state)  # seen again: still one diverged run
    on_disk = Progress.load(progress_path)
    assert on_disk.diverged("teach") == 1
    assert on_disk.position("teach")["section"] == 2  # followed the running cell

    session.reset()
    session.run_all()
    _settle(session)
    assert Progress.load(progress_path).diverged("teach") == 2
    session.leave()
