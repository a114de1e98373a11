"""The engine is a library under the UI, checked in a fresh interpreter:
no module of tutor/engine imports Textual, and loading or checking lessons does not
import torch (so `tutor list`/`tutor check` stay fast and the app's first frame
comes before torch)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import tutor.engine

REPO = Path(__file__).resolve().parents[2]


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def engine_modules() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(tutor.engine.__path__, "tutor.engine."))


def test_engine_imports_no_textual():
    names = engine_modules()
    assert {"tutor.engine.loader", "tutor.engine.checker", "tutor.engine.lesson"} <= set(names)
    loaded = _modules_after("\n".join(f"import {name}" for name in names))
    assert set(names) <= loaded  # every module really imported
    assert not {m for m in loaded if m == "textual" or m.startswith("textual.")}


def test_loading_and_checking_lessons_imports_no_torch():
    code = (
        "from tutor.engine import loader, checker\n"
        "lessons, errors = loader.discover(loader.bundled_lessons_dir())\n"
        "assert lessons\n"
        "checker.check_files(loader.lesson_files(loader.bundled_lessons_dir()))\n"
    )
    loaded = _modules_after(code)
    assert "tutor.engine.checker" in loaded
    assert "torch" not in loaded and "textual" not in loaded


def test_list_and_check_commands_import_no_torch():
    code = (
        "import argparse, contextlib, io\n"
        "from tutor.commands import check, list_lessons\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    list_lessons.main(argparse.Namespace(lessons=None, json=True, lang='en'))\n"
        "    check.main(argparse.Namespace(lessons=None, paths=['lessons'], run=False, lang='en'))\n"
    )
    assert "torch" not in _modules_after(code)
