"""Fixtures for the app tests: small lessons in tmp_path and an app factory.

Every app built here keeps its progress under tmp_path (XDG_STATE_HOME and an
explicit progress path), so tests never touch the real home directory.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest

TINY = """\
---
id: tiny-fit
title:
  en: Tiny fit
  ko: 작은 학습
summary:
  en: Fit one weight with gradient descent.
  ko: 경사 하강법으로 가중치 하나를 맞춥니다.
---

::: en
We fit one weight so that 2 * w is 4.
:::
::: ko
2 * w가 4가 되도록 가중치 하나를 맞춥니다.
:::

## Setup | 준비

::: en
Make the weight.
:::
::: ko
가중치를 만듭니다.
:::

```python
import torch
w = torch.tensor([1.0], requires_grad=True)
print("ready")
```

```output
ready
```

## Train | 훈련

::: en
Five steps of gradient descent.
:::
::: ko
경사 하강법 다섯 걸음.
:::

:::: hint
::: en
Watch the grad column.
:::
::: ko
기울기 열을 보세요.
:::
::::

```python
lr = 0.1
for epoch in range(5):
    cost = ((w * 2 - 4) ** 2).mean()
    cost.backward()
    with torch.no_grad():
        w -= lr * w.grad
        w.grad.zero_()
    print(epoch, round(cost.item(), 4))
```
"""

BROKEN = """\
---
id: broken
title:
  en: Broken lesson
  ko: 고장 난 강의
---

## Fail | 실패

```python
x = 1
y = x / 0
```

```python
print("after")
```
"""

DIVERGE = """\
---
id: diverge
title:
  en: Too large
  ko: 너무 큰 학습률
---

## Train | 훈련

```python
import torch
w = torch.tensor([1.0], requires_grad=True)
lr = 1.0
for epoch in range(2000):
    cost = ((w * 2 - 4) ** 2).mean()
    cost.backward()
    with torch.no_grad():
        w -= lr * w.grad
        w.grad.zero_()
```
"""

LONG = """\
---
id: long-run
title:
  en: Long run
  ko: 긴 실행
---

## Train | 훈련

```python
import torch
w = torch.tensor([1.0], requires_grad=True)
lr = 0.001
for epoch in range(1_000_000):
    cost = ((w * 2 - 4) ** 2).mean()
    cost.backward()
    with torch.no_grad():
        w -= lr * w.grad
        w.grad.zero_()
```
"""


@pytest.fixture(autouse=True)
def _private_state(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def lessons_dir(tmp_path) -> Path:
    d = tmp_path / "lessons"
    d.mkdir()
    (d / "01-tiny.md").write_text(TINY, encoding="utf-8")
    (d / "02-broken.md").write_text(BROKEN, encoding="utf-8")
    (d / "03-diverge.md").write_text(DIVERGE, encoding="utf-8")
    return d


@pytest.fixture
def progress_path(tmp_path) -> Path:
    return tmp_path / "state" / "tutor" / "progress.json"


@pytest.fixture
def make_app(lessons_dir, progress_path, kernel_host):
    """make_app(lesson=None, lang="en", lessons=lessons_dir) -> TutorApp, its kernels
    forked from the session's one zygote (`kernel_host`, tests/conftest.py)."""
    from tutor.commands.app import build_app

    def make(lesson: str | None = None, lang: str = "en", lessons: Path | None = None):
        args = argparse.Namespace(
            lessons=str(lessons or lessons_dir), lang=lang, lesson=lesson, watch=False
        )
        return build_app(args, progress_path=progress_path, kernel_host=kernel_host)

    return make


async def wait_for(pilot, predicate, timeout: float = 15.0, what: str = "condition"):
    """Let the app run until `predicate()` holds (the engine works in a thread)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
    await pilot.pause(0.1)  # let the refresh timer render it


async def engine_ready(pilot):
    await wait_for(pilot, lambda: pilot.app.engine_ready, 30, "torch to load")
    await wait_for(pilot, lambda: getattr(pilot.app.screen, "runner", None) is not None
                   or not hasattr(pilot.app.screen, "runner"), 5, "the runner")


async def open_lesson(pilot):
    """The lesson screen the app opened, once torch and its runner are ready."""
    from tutor.ui.screens.lesson import LessonScreen

    await engine_ready(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, LessonScreen)
    return screen


async def press_and_settle(pilot, screen, *keys):
    """Press each key and wait until the runner has done what it asked."""
    for key in keys:
        await pilot.press(key)
        await wait_for(pilot, lambda: settled(screen), what=f"the runner after {key}")


def settled(screen) -> bool:
    """The runner waits for a command and the screen shows its latest state."""
    state = screen.runner.state
    return state.status in ("idle", "paused", "done", "error") and screen._last_state is state


def screen_text(app) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)

