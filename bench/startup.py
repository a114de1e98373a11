"""Time to the app's first frame, beside the time `import torch` takes.

Both are measured the same way: wall time from spawning a fresh interpreter until
the thing is done (the first frame painted, in a headless app; torch imported).
The app draws before torch loads, so the ratio should be well below 1. Each is
measured 3 times; the medians are printed, with whether torch was already imported
when the first frame appeared (it must not be).

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

app = build_app(args, progress_path=Path({state!r}), on_first_frame=first_frame)
app.run(headless=True, size=(80, 24))
"""

IMPORT_TORCH = "import time, torch; print(time.time(), flush=True)"


def _spawn(code: str) -> tuple[float, str]:
    start = time.time()
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return start, proc.stdout.strip().splitlines()[0]


def first_frame_seconds(lessons: str, state: str) -> tuple[float, bool]:
    start, line = _spawn(FIRST_FRAME.format(lessons=lessons, state=state))
    data = json.loads(line)
    return data["at"] - start, data["torch"] or data["runner"]


def torch_import_seconds() -> float:
    start, line = _spawn(IMPORT_TORCH)
    return float(line) - start


def main() -> int:
    lessons = str(ROOT / "lessons")
    with tempfile.TemporaryDirectory() as tmp:
        state = str(Path(tmp) / "progress.json")
        frames, torch_early = [], False
        imports = []
        for _ in range(3):
            seconds, early = first_frame_seconds(lessons, state)
            frames.append(seconds)
            torch_early |= early
            imports.append(torch_import_seconds())
    frame, torch_s = statistics.median(frames), statistics.median(imports)
    print(f"first frame (spawn to paint, median of 3): {frame:.3f} s")
    print(f"import torch (spawn to imported, median of 3): {torch_s:.3f} s")
    print(f"ratio first frame / torch import: {frame / torch_s:.2f}")
    print(f"torch imported before the first frame: {'YES (bad)' if torch_early else 'no'}")
    return 1 if torch_early else 0


if __name__ == "__main__":
    sys.exit(main())
