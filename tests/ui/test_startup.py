"""First frame before torch: the app paints without torch (or the runner) imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import argparse, json, sys
from pathlib import Path
from tutor.commands.app import build_app

args = argparse.Namespace(lessons={lessons!r}, lang="en", lesson="tiny-fit", watch=False)
app = None
seen = {{}}

def first_frame():
    seen["screens"] = [type(s).__name__ for s in app.screen_stack]
    seen["torch"] = "torch" in sys.modules
    seen["runner"] = "tutor.engine.runner" in sys.modules
    seen["status"] = app.screen.query_one("#status").render().plain
    app.exit()

app = build_app(args, progress_path=Path({state!r}), on_first_frame=first_frame)
app.run(headless=True, size=(80, 24))
print(json.dumps(seen))
"""


def test_first_frame_comes_before_torch(lessons_dir, tmp_path):
    code = CHILD.format(lessons=str(lessons_dir), state=str(tmp_path / "progress.json"))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["torch"] is False
    # the picker is the first screen (no blank default screen painted before it), the
    # lesson opened from the command line on top of it
    assert seen["screens"] == ["PickerScreen", "LessonScreen"]
    assert seen["runner"] is False
    assert "loading" in seen["status"]
