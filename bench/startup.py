"""Time to the app's first frame, beside the time `import torch` takes.

Both are measured the same way: wall time from spawning a fresh interpreter until
the thing is done (the first frame painted, in a headless app; torch imported).
The app draws before torch loads (the app never imports torch: its zygote does, in
another process), so the ratio should be well below 1 (target <= 0.25). Each is
measured 5 times, alternating; the medians are printed, with whether torch was already imported
in the app when the first frame appeared (it must not be).

The lessons are read as `tutor` reads them: from the cache of parsed lessons
(engine/lesson_index.py), which the first, untimed start fills (its time is printed
too: a learner's very first start).

Then `lesson ready after picker`: the app shows the picker, and 2 s after its first
frame the first lesson is opened; timed from opening it until its kernel (forked
from the zygote, which imported torch meanwhile) has connected and waits for the
first command (median of five). Target <= 0.2 s.

    .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_FRAME = """
import argparse, json, sys, time
from pathlib import Path
from tutor.commands.app import build_app

args = argparse.Namespace(lessons={lessons!r}, lang="en", lesson=None, watch=False)
app = None

def first_frame():
    print(json.dumps({{"at": time.time(), "torch": "torch" in sys.modules,
                      "runner": "tutor.engine.runner" in sys.modules}}), flush=True)
    app.exit()

app = build_app(args, progress_path=Path({state!r}), on_first_frame=first_frame,
                lesson_cache=Path({cache!r}))
app.run(headless=True, size=(80, 24))
"""

READY = """
import argparse, json, sys, time
from pathlib import Path
from tutor.commands.app import build_app

args = argparse.Namespace(lessons={lessons!r}, lang="en", lesson=None, watch=False)
app = None
opened = []

def check():
    screen = app.screen
    runner = getattr(screen, "runner", None)
    inc = getattr(runner, "_current", None)
    if opened and inc is not None and inc.conn is not None and runner.state.status == "idle":
        print(json.dumps({{"ready": time.perf_counter() - opened[0],
                          "zygote_ready": app.kernel_host.ready.is_set()}}), flush=True)
        app.exit()

def open_first():
    opened.append(time.perf_counter())
    app.open_lesson(app.lessons[0])
    app.set_interval(0.002, check)

def first_frame():
    app.set_timer(2.0, open_first)

app = build_app(args, progress_path=Path({state!r}), on_first_frame=first_frame,
                lesson_cache=Path({cache!r}))
app.run(headless=True, size=(80, 24))
"""

IMPORT_TORCH = "import time, torch; print(time.time(), flush=True)"
FRAME_RUNS = 9  # pairs (first frame, import torch)
READY_RUNS = 5  # the zygote's warm-up varies most: five, for a stable median


def _spawn(code: str) -> tuple[float, str]:
    start = time.time()
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return start, proc.stdout.strip().splitlines()[0]


def first_frame_seconds(lessons: str, state: str, cache: str) -> tuple[float, bool]:
    start, line = _spawn(FIRST_FRAME.format(lessons=lessons, state=state, cache=cache))
    data = json.loads(line)
    return data["at"] - start, data["torch"] or data["runner"]


def torch_import_seconds() -> float:
    start, line = _spawn(IMPORT_TORCH)
    return float(line) - start


def main() -> int:
    lessons = str(ROOT / "lessons")
    with tempfile.TemporaryDirectory() as tmp:
        state = str(Path(tmp) / "progress.json")
        cache = str(Path(tmp) / "cache")
        cold, _ = first_frame_seconds(lessons, state, cache)  # parses, fills the lesson cache
        frames, torch_early = [], False
        imports = []
        for _ in range(FRAME_RUNS):
            seconds, early = first_frame_seconds(lessons, state, cache)
            frames.append(seconds)
            torch_early |= early
            imports.append(torch_import_seconds())
        readies = []
        for _ in range(READY_RUNS):
            _, line = _spawn(READY.format(lessons=lessons, state=state, cache=cache))
            readies.append(json.loads(line)["ready"])
    frame, torch_s = statistics.median(frames), statistics.median(imports)
    ratio = statistics.median(f / i for f, i in zip(frames, imports))
    print(f"first frame (spawn to paint, median of {FRAME_RUNS}): {frame:.3f} s "
          f"(lessons from the cache, as from a learner's second start; the first: {cold:.3f} s)")
    print(f"import torch (spawn to imported, median of {FRAME_RUNS}): {torch_s:.3f} s")
    print(f"ratio first frame / torch import: {ratio:.2f} (median of {FRAME_RUNS} pairs)")
    print(f"torch imported before the first frame: {'YES (bad)' if torch_early else 'no'}")
    ready = statistics.median(readies)
    print(f"lesson ready after picker: {ready:.3f} s (opened 2 s after the picker's first frame; median of {READY_RUNS})")
    return 1 if torch_early or ratio > 0.25 or ready > 0.2 else 0


if __name__ == "__main__":
    sys.exit(main())
