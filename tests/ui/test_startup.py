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


LOADED = """
import argparse, json, sys
from pathlib import Path
from tutor.commands.app import build_app

args = argparse.Namespace(lessons={lessons!r}, lang="en", lesson=None, watch=False)
app = None
seen = {{}}

def check():
    if app.engine_ready:
        seen.update((name, name in sys.modules) for name in
                    ("tutor.ui.screens.lesson", "tutor.session", "tutor.engine.kernel.client", "torch"))
        app.exit()

def first_frame():
    seen["lesson screen at first frame"] = "tutor.ui.screens.lesson" in sys.modules
    app.set_interval(0.01, check)

app = build_app(args, progress_path=Path({state!r}), on_first_frame=first_frame)
app.run(headless=True, size=(80, 24))
print(json.dumps(seen))
"""


def test_a_lesson_s_modules_load_while_the_picker_shows(lessons_dir, tmp_path):
    """Opening a lesson imported the lesson screen, its widgets, the session and the
    kernel's client on the UI thread (0.1 s here): they load with the engine, in the
    background after the first frame, so a lesson opens as soon as its kernel is up."""
    code = LOADED.format(lessons=str(lessons_dir), state=str(tmp_path / "progress.json"))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"lesson screen at first frame": False, "tutor.ui.screens.lesson": True,
                    "tutor.session": True, "tutor.engine.kernel.client": True, "torch": False}
