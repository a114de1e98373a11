"""The wheel ships the lessons and an installed tutor finds them.

Builds the wheel from this checkout (hatchling, no network: `--no-isolation`),
checks that every bundled lesson is inside it under `tutor/lessons/`, then installs
it by unpacking it into a fresh directory (a wheel install is an unpack plus the
console script) and runs `tutor list --json` from there: the lessons must be found
inside the installed package, not in the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True, capture_output=True, text=True, timeout=120,
    )
    [built] = out.glob("tutor-*.whl")
    return built


def test_wheel_contains_the_bundled_lessons_and_the_entry_point(wheel):
    repo_lessons = sorted(p.name for p in (REPO / "lessons").glob("*.md"))
    assert repo_lessons, "lessons/ holds no lesson"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    shipped = sorted(n.removeprefix("tutor/lessons/") for n in names if n.startswith("tutor/lessons/"))
    assert shipped == repo_lessons
    assert "tutor = tutor.cli:main" in scripts
    assert "tutor/engine/loader.py" in names and "tutor/ui/app.tcss" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]


def test_installed_wheel_lists_its_own_lessons(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site), "LANG": "C.UTF-8"}
    env.pop("LC_ALL", None)
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from tutor.cli import main; sys.exit(main())", "list", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    rows = json.loads(done.stdout)
    bundled = site / "tutor" / "lessons"
    assert [Path(row["path"]) for row in rows] == sorted(bundled.glob("*.md"))
    assert len(rows) >= 1 and all(row["id"] and row["title"]["en"] and row["title"]["ko"] for row in rows)
