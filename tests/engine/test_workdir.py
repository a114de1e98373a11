"""Lesson code runs in the lesson file's directory, wherever tutor was started.

A lesson next to its `points.csv` reads it with a relative path from another working
directory: headless (`Runner.run_to_end`, `tutor run`, `tutor check --run`) and
stepped (the app's way: the directory is the lesson's while its code runs, and given
back while paused and after the run).
"""

from __future__ import annotations

import io
import os
from contextlib import redirect_stdout

import torch

from tests.engine.conftest import build_lesson
from tutor import cli
from tutor.engine.runner import Runner

READ = "import torch\nrows = [line.split(',') for line in open('points.csv').read().split()]\n"
CELLS = [
    (READ + "x = torch.tensor([[float(a)] for a, b in rows])\nprint(x.sum().item())\n", "6.0"),
    "import os\nprint(os.path.basename(os.getcwd()))\n",
]


def setup(tmp_path, monkeypatch):
    lessons = tmp_path / "course"
    lessons.mkdir()
    (lessons / "points.csv").write_text("1,2\n2,4\n3,6\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return build_lesson(lessons / "01-data.md", CELLS), elsewhere


def test_headless_run_reads_the_data_file_next_to_the_lesson(tmp_path, monkeypatch):
    lesson, elsewhere = setup(tmp_path, monkeypatch)
    state = Runner(lesson).run_to_end()
    assert state.error is None, state.error
    expected = torch.tensor([[1.0], [2.0], [3.0]]).sum().item()
    assert state.outputs[0] == f"{expected}\n" and state.outputs[1] == "course\n"
    assert os.getcwd() == str(elsewhere)  # given back


def test_stepped_run_is_in_the_lesson_directory_only_while_its_code_runs(tmp_path, monkeypatch):
    lesson, elsewhere = setup(tmp_path, monkeypatch)
    runner = Runner(lesson)
    try:
        runner.step()
        runner.wait(10)
        runner.step()
        state = runner.wait(10)
        assert state.status == "paused" and os.getcwd() == str(elsewhere)
        runner.run()
        state = runner.wait(10)
        assert state.status == "done" and state.error is None, state.error
        assert state.outputs[1] == "course\n"
    finally:
        runner.close()
    assert os.getcwd() == str(elsewhere)


def test_tutor_run_and_check_run_from_another_directory(tmp_path, monkeypatch, capsys):
    lesson, elsewhere = setup(tmp_path, monkeypatch)
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert cli.main(["run", str(lesson.path)]) == 0
    assert buffer.getvalue() == "6.0\ncourse\n"
    assert cli.main(["check", "--run", str(lesson.path)]) == 0
    assert capsys.readouterr().out.startswith("ok: 1 lesson, 2 cells run, 1 output blocks matched")
    assert os.getcwd() == str(elsewhere)


def test_a_module_next_to_the_lesson_imports_as_in_jupyter(tmp_path, monkeypatch, client):
    """`from helpers import double` finds helpers.py beside the lesson (Jupyter puts its
    working directory on sys.path), in-process and in a kernel; sys.path is given back
    with the directory."""
    import sys

    lessons = tmp_path / "course"
    lessons.mkdir()
    (lessons / "helpers_for_tutor_test.py").write_text("def double(x):\n    return 2 * x\n")
    monkeypatch.chdir(tmp_path)
    lesson = build_lesson(lessons / "01-local.md", [
        "from helpers_for_tutor_test import double\nprint(double(21))\n", "y = 1\n"])
    monkeypatch.delitem(sys.modules, "helpers_for_tutor_test", raising=False)
    runner = Runner(lesson)
    try:
        runner.next()
        state = runner.wait(30)
        assert state.error is None and state.outputs[0] == "42\n"
        assert str(lessons) not in sys.path  # paused: the lesson's directory is given back
    finally:
        runner.close()
        sys.modules.pop("helpers_for_tutor_test", None)
    remote = client(lesson)
    remote.run()
    state = remote.wait(30)
    assert state.status == "done" and state.outputs[0] == "42\n", state.error
