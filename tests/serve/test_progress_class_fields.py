"""What progress.py keeps for the teacher's view, and where TUTOR_STATE_DIR puts it."""

from __future__ import annotations

import json
import stat
import time

import pytest

from tutor.engine.edit import user_lessons_dir
from tutor.progress import Progress, default_path


def test_state_dir_env_moves_progress_and_edited_copies(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TUTOR_STATE_DIR", str(tmp_path / "state" / "kim"))
    assert default_path() == tmp_path / "state" / "kim" / "progress.json"
    assert user_lessons_dir() == tmp_path / "state" / "kim" / "lessons"
    progress = Progress.load()
    progress.set_position("a", 0, 0)
    assert progress.save()
    assert stat.S_IMODE(default_path().stat().st_mode) == 0o600


def test_divergences_predictions_and_activity_round_trip(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress.load(path)
    progress.set_position("a", 2, 5)
    progress.add_divergence("a")
    progress.add_divergence("a")
    progress.set_prediction("a", 3, 1, 4)
    progress.set_prediction("a", 3, 2, 3)  # the last prediction for a cell counts
    progress.set_prediction("b", 0, 0, 1)
    before = time.time()
    assert progress.save()
    data = json.loads(path.read_text())
    assert data["lessons"]["a"]["diverged"] == 2
    assert data["lessons"]["a"]["predictions"] == {"3": {"matched": 2, "lines": 3}}
    assert before - 1 <= data["last_activity"] <= time.time() + 1
    again = Progress.load(path)
    assert again.warning is None
    assert again.diverged("a") == 2 and again.diverged("b") == 0
    assert again.predictions("a") == {3: {"matched": 2, "lines": 3}}
    assert again.lesson_ids() == ["a", "b"]
    assert again.last_activity == data["last_activity"]


def test_bad_prediction_values_are_refused_or_dropped(tmp_path):
    progress = Progress.load(tmp_path / "p.json")
    with pytest.raises(ValueError):
        progress.set_prediction("a", 0, 3, 2)
    path = tmp_path / "progress.json"
    path.write_text(json.dumps({"version": 1, "lessons": {"a": {
        "diverged": -1, "predictions": {"0": {"matched": 5, "lines": 1},
                                        "1": {"matched": 1, "lines": 1}}}},
        "last_activity": "yesterday"}))
    loaded = Progress.load(path)
    assert "ignored 3 value(s)" in loaded.warning
    assert loaded.diverged("a") == 0 and loaded.predictions("a") == {1: {"matched": 1, "lines": 1}}
    assert loaded.last_activity is None


def test_a_reader_never_moves_a_learners_unusable_file(tmp_path):
    path = tmp_path / "progress.json"
    path.write_text("{not json")
    loaded = Progress.load(path, set_aside=False)
    assert "unusable" in loaded.warning
    assert path.read_text() == "{not json" and list(tmp_path.iterdir()) == [path]
    assert loaded.save() is False  # and it never writes it either
