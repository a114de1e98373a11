"""The app with real kernels, through the default path (`tutor` starts its own
zygote): torch never enters the app process, faults of lesson code leave the app
alive, and no process outlives the app, however it ends.

Each scenario runs the app in a child process (headless), which reports the pids
of its zygote and kernel and whether libtorch is mapped into itself; the test then
ends the app (q, SIGTERM, SIGKILL, SIGHUP) and checks that every one of them is gone.
The children run in parallel: each imports torch once, in its own zygote.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tutor.ui.i18n import t

from tests.conftest import process_gone

from .conftest import open_lesson, press_and_settle, screen_text, wait_for

ROOT = Path(__file__).resolve().parents[2]

STUCK = """\
---
id: stuck
title:
  en: Stuck
  ko: 멈춤
---

## Run | 실행

```python
import torch
w = torch.ones(2, requires_grad=True)
print("before")
```

```python
total = sum(range(10**11))
```
"""

CHILD = """
import asyncio, json, os, sys, time, argparse
from pathlib import Path
from tutor.commands.app import build_app

async def main():
    args = argparse.Namespace(lessons={lessons!r}, lang="en", lesson="stuck", watch=False)
    app = build_app(args, progress_path=Path({state!r}))
    async with app.run_test(size=(80, 24)) as pilot:
        while getattr(app.screen, "runner", None) is None:
            await pilot.pause(0.05)
        await pilot.press("space")
        runner = app.screen.runner
        while runner._current is None or runner._current.conn is None or runner.state.status != "running":
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        maps = Path("/proc/self/maps").read_text()
        zygote = app.kernel_host.zygote_pid
        report = dict(
            app=os.getpid(), zygote=zygote, kernel=runner._current.pid, dir=app.kernel_host.dir,
            app_torch="libtorch" in maps,
            zygote_torch="libtorch" in Path(f"/proc/{{zygote}}/maps").read_text(),
            status=runner.state.status,
            torch_module="torch" in sys.modules,
        )
        print(json.dumps(report), flush=True)
        sys.stdin.readline()  # the test says quit (or sends a signal instead)
        started = time.monotonic()
        await pilot.press("q", "q")
        await pilot.pause(0.05)
    print(json.dumps(dict(quit_seconds=time.monotonic() - started)), flush=True)

asyncio.run(main())
"""


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if not process_gone(p)]
        if not left:
            return []
        time.sleep(0.02)
    return [p for p in pids if not process_gone(p)]


def test_no_torch_in_the_app_and_no_process_outlives_it(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "01-stuck.md").write_text(STUCK, encoding="utf-8")
    ways = ["quit", signal.SIGTERM, signal.SIGKILL, signal.SIGHUP]
    children = []
    for n, way in enumerate(ways):
        code = CHILD.format(lessons=str(lessons), state=str(tmp_path / f"progress{n}.json"))
        children.append(subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        ))
    try:
        reports = []
        for child in children:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            reports.append(json.loads(line))
        for report in reports:
            # lesson code is running (a C call that never returns), in the kernel
            assert report["status"] == "running"
            assert report["app_torch"] is False and report["torch_module"] is False
            assert report["zygote_torch"] is True
            assert report["kernel"] not in (None, report["app"], report["zygote"])
        for way, child, report in zip(ways, children, reports):
            if way == "quit":
                child.stdin.write("\n")
                child.stdin.flush()
            else:
                os.kill(child.pid, way)
        for way, child, report in zip(ways, children, reports):
            child.wait(20)
            left = _wait_gone([report["zygote"], report["kernel"]], 3.0)
            assert not left, f"{way}: processes left: {left}"
            assert not Path(report["dir"]).exists(), f"{way}: {report['dir']} left"  # socket, logs
            if way == "quit":
                done = json.loads(child.stdout.readline())
                assert done["quit_seconds"] < 1.0
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


EARLY = """
import json, os, sys
from tutor.engine.kernel.host import KernelHost
host = KernelHost()
print(json.dumps(dict(zygote=host.proc.pid, dir=host.dir)), flush=True)
sys.stdin.readline()
os._exit(0)  # the app is gone, torch still importing in the zygote
"""


def test_an_app_gone_while_torch_still_imports_leaves_no_zygote(tmp_path):
    """The zygote starts with the app and imports torch for seconds (2.5 s here with
    the optimizer's dynamo imports): an app quit or killed meanwhile must not leave it
    importing on a core another process needs."""
    child = subprocess.Popen([sys.executable, "-c", EARLY], cwd=ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line, child.stderr.read()
        report = json.loads(line)
        time.sleep(0.2)  # well inside the warm-up
        assert not process_gone(report["zygote"])
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(10)
        started = time.monotonic()
        assert not _wait_gone([report["zygote"]], 1.0), "the zygote went on importing"
        assert time.monotonic() - started < 1.0
        assert not Path(report["dir"]).exists()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


OS_EXIT = """\
---
id: exits
title:
  en: Exits
  ko: 종료
---

## Run | 실행

```python
x = 1
print("before")
```

```python
import os
y = 2
os._exit(3)
```
"""


async def test_a_dying_kernel_is_an_error_in_the_output_pane_and_r_recovers(make_app, lessons_dir):
    (lessons_dir / "05-exits.md").write_text(OS_EXIT, encoding="utf-8")
    app = make_app(lesson="exits")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson(pilot)
        await press_and_settle(pilot, screen, "n", "n")
        state = screen.runner.state
        assert state.status == "error"
        assert (state.error.type, state.error.exit_code) == ("KernelDied", 3)
        line = state.error.line
        assert line == screen.lesson.cells[1].line + 2  # the os._exit line (from its stack)
        text = screen_text(app)
        assert "exit code 3" in text and "error" in screen.query_one("#status").render().plain
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.runner.state.status == "idle", what="reset")
        await press_and_settle(pilot, screen, "n")
        assert screen.runner.state.outputs[0] == "before\n"
        assert app.is_running


def test_fault_words_in_both_languages():
    from tutor.engine.state import ErrorInfo
    from tutor.ui.i18n import error_text

    died = ErrorInfo(cell=1, line=12, type="KernelDied", message="", signal=11)
    assert "SIGSEGV" in error_text(died, "en") and "12" in error_text(died, "en")
    assert "시그널 11" in error_text(died, "ko")
    memory = ErrorInfo(cell=1, line=9, type="MemoryLimit", message="", limit=2 << 30)
    assert "2 GiB" in error_text(memory, "en") and "2 GiB" in error_text(memory, "ko")
    stuck = ErrorInfo(cell=0, line=3, type="KernelUnresponsive", message="")
    assert t("fault.unresponsive", "ko", line=3) == error_text(stuck, "ko")
