"""The teacher's view on two learners' state: `tutor class --json` and the screen."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tutor import cli
from tutor.engine import loader
from tutor.progress import Progress
from tutor.serve.roster import read_class
from tutor.ui.screens.class_view import ClassApp

NOW = 1_764_620_000.0


def _two_learners(tmp_path, lessons_dir):
    state = tmp_path / "state"
    kim = Progress.load(state / "kim" / "progress.json")
    kim.mark_finished("web-tiny")
    kim.set_position("web-tiny", 2, 1)
    kim.add_divergence("web-tiny")
    kim.set_prediction("web-tiny", 1, 1, 2)
    kim.set_prediction("web-tiny", 0, 1, 1)
    assert kim.save()
    lee = Progress.load(state / "lee" / "progress.json")
    lee.set_position("web-tiny", 1, 0)
    assert lee.save()
    os.utime(state / "kim" / "progress.json")
    for name, stamp in (("kim", NOW - 300), ("lee", NOW - 7200)):  # 5 min, 2 h ago
        path = state / name / "progress.json"
        data = json.loads(path.read_text())
        data["last_activity"] = stamp
        path.write_text(json.dumps(data))
    (state / "not a learner").mkdir()
    (state / "stray-file").write_text("x")
    return state


def _lessons(tmp_path):
    from tests.serve.serving import LESSON

    directory = tmp_path / "lessons"
    directory.mkdir()
    (directory / "01-web-tiny.md").write_text(LESSON, encoding="utf-8")
    return directory


def test_class_json_lists_each_learner(tmp_path, capsys):
    lessons = _lessons(tmp_path)
    state = _two_learners(tmp_path, lessons)
    assert cli.main(["class", "--state", str(state), "--lessons", str(lessons), "--json"]) == 0
    learners = json.loads(capsys.readouterr().out)
    assert [x["name"] for x in learners] == ["kim", "lee"]
    kim, lee = learners
    assert kim["lesson"] == {"id": "web-tiny", "title": {"en": "Tiny web lesson", "ko": "작은 웹 강의"},
                             "section": 2, "section_title": {"en": "Loop", "ko": "반복"}}
    assert kim["finished"] == ["web-tiny"] and lee["finished"] == []
    assert kim["diverged"] == 1 and lee["diverged"] == 0
    assert kim["predictions"] == {"made": 2, "matched_lines": 2, "lines": 3,
                                  "closeness": 2 / 3}
    assert lee["predictions"]["made"] == 0 and lee["predictions"]["closeness"] is None
    assert kim["last_activity"] == "2025-12-01T20:08:20+00:00"


def test_class_needs_an_existing_state_dir(tmp_path, capsys):
    assert cli.main(["class", "--state", str(tmp_path / "nope"), "--json"]) == 2
    assert "state directory not found" in capsys.readouterr().err


async def test_class_screen_shows_both_learners_in_both_languages(tmp_path):
    lessons_dir = _lessons(tmp_path)
    state = _two_learners(tmp_path, lessons_dir)
    lessons, _ = loader.discover(lessons_dir)
    app = ClassApp(state, lessons, lang="en", now=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one("#learners")
        rows = [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        assert rows == [
            ("kim", "Tiny web lesson · §2 Loop", "1", "5 min ago", "1", "2, 67% of lines"),
            ("lee", "Tiny web lesson · §1 Start", "0", "2 h ago", "0", "—"),
        ]
        await pilot.press("l")
        await pilot.pause()
        rows = [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        assert rows[0] == ("kim", "작은 웹 강의 · §2 반복", "1", "5분 전", "1", "2개, 줄 67% 맞음")
        assert "학습자 2명" in str(app.query_one("#class-title").render())
        # a learner who moves on shows up on `r`, read from the file again
        lee = Progress.load(state / "lee" / "progress.json")
        lee.mark_finished("web-tiny")
        lee.save()
        await pilot.press("r")
        await pilot.pause()
        assert str(table.get_row_at(1)[2]) == "1"
    assert [s.name for s in read_class(state, lessons)] == ["kim", "lee"]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_class_screen_snapshot(snap_compare, tmp_path, monkeypatch, lang):
    """80x24 in both languages (a relative state path and a fixed clock keep it stable)."""
    lessons_dir = _lessons(tmp_path)
    _two_learners(tmp_path, lessons_dir)
    monkeypatch.chdir(tmp_path)
    lessons, _ = loader.discover(lessons_dir)
    app = ClassApp(Path("state"), lessons, lang=lang, now=lambda: NOW)
    assert snap_compare(app, terminal_size=(80, 24))
