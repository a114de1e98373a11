"""tutor.progress: round trips, bad files set aside, atomic private saves."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tutor import progress as progress_module
from tutor.progress import LR_HISTORY_LIMIT, Progress

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "tutor" / "progress.json"


def corrupt_copies(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".corrupt-*"))


def test_missing_file_gives_empty_progress_without_warning(path):
    p = Progress.load(path)
    assert p.finished == set()
    assert p.last_lesson is None
    assert p.position("a") is None
    assert p.lr_history("a") == []
    assert p.warning is None
    assert not path.exists()


def test_round_trip(path):
    p = Progress.load(path)
    p.mark_finished("01-intro")
    p.set_position("02-linear", 3, 7)
    p.add_lr("02-linear", 0.1)
    p.add_lr("02-linear", 0.01)
    assert p.save() is True

    q = Progress.load(path)
    assert q.warning is None
    assert q.finished == {"01-intro"}
    assert q.last_lesson == "02-linear"
    assert q.position("02-linear") == {"section": 3, "cell": 7}
    assert q.position("01-intro") is None
    assert q.lr_history("02-linear") == [0.1, 0.01]
    data = json.loads(path.read_text())
    assert data["version"] == progress_module.FORMAT_VERSION


def test_korean_lesson_ids_round_trip(path):
    p = Progress.load(path)
    p.set_position("선형-회귀", 0, 1)
    assert p.save()
    assert Progress.load(path).position("선형-회귀") == {"section": 0, "cell": 1}


def test_set_position_sets_last_lesson_and_overwrites(path):
    p = Progress.load(path)
    p.set_position("a", 1, 2)
    p.set_position("b", 0, 0)
    assert p.last_lesson == "b"
    p.set_position("a", 4, 5)
    assert p.last_lesson == "a"
    assert p.position("a") == {"section": 4, "cell": 5}


@pytest.mark.parametrize("section, cell", [(-1, 0), (0, -3), (1.5, 0), (True, 0), ("1", 2)])
def test_set_position_refuses_bad_indexes(path, section, cell):
    p = Progress.load(path)
    with pytest.raises(ValueError):
        p.set_position("a", section, cell)
    assert p.position("a") is None and p.last_lesson is None


def test_position_returns_a_copy(path):
    p = Progress.load(path)
    p.set_position("a", 1, 1)
    p.position("a")["section"] = 99
    assert p.position("a") == {"section": 1, "cell": 1}


def test_lr_history_is_bounded_and_ordered(path):
    p = Progress.load(path)
    values = [10.0 ** -(i % 7) * (1 + i) for i in range(LR_HISTORY_LIMIT + 15)]
    for v in values:
        p.add_lr("a", v)
    assert p.lr_history("a") == values[-LR_HISTORY_LIMIT:]
    assert p.save()
    assert Progress.load(path).lr_history("a") == values[-LR_HISTORY_LIMIT:]


def test_lr_history_skips_repeats_and_invalid_values(path):
    p = Progress.load(path)
    for v in [0.1, 0.1, float("nan"), float("inf"), 0.0, -1.0, True, 0.5, 0.1]:
        p.add_lr("a", v)
    assert p.lr_history("a") == [0.1, 0.5, 0.1]
    p.lr_history("a").append(3.0)  # a copy
    assert p.lr_history("a") == [0.1, 0.5, 0.1]


def test_reset_lesson_forgets_only_that_lesson(path):
    p = Progress.load(path)
    for lesson in ("a", "b"):
        p.mark_finished(lesson)
        p.set_position(lesson, 2, 3)
        p.add_lr(lesson, 0.3)
    p.reset_lesson("a")
    assert p.finished == {"b"}
    assert p.position("a") is None and p.lr_history("a") == []
    assert p.position("b") == {"section": 2, "cell": 3}
    assert p.lr_history("b") == [0.3]
    assert p.save()
    q = Progress.load(path)
    assert q.finished == {"b"} and q.position("a") is None and q.lr_history("a") == []
    assert "a" not in json.loads(path.read_text())["lessons"]


def test_default_path_follows_xdg_state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    p = Progress.load()
    assert p.path == tmp_path / "xdg" / "tutor" / "progress.json"
    p.mark_finished("x")
    assert p.save()
    assert (tmp_path / "xdg" / "tutor" / "progress.json").is_file()


def test_saved_file_is_0600_and_directory_0700(path):
    p = Progress.load(path)
    p.mark_finished("a")
    assert p.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


def test_save_makes_an_existing_world_readable_file_private(path):
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "lessons": {}}')
    path.chmod(0o644)
    p = Progress.load(path)
    p.mark_finished("a")
    assert p.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_leaves_no_temporary_files(path):
    p = Progress.load(path)
    for i in range(3):
        p.set_position("a", i, i)
        assert p.save()
    assert [f.name for f in path.parent.iterdir()] == ["progress.json"]


def write_raw(path: Path, content: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)


@pytest.mark.parametrize(
    "content",
    [
        b'{"version": 1, "lessons": {',  # truncated
        b"",  # empty
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",  # valid JSON, not an object
        b'"hello"',
        b'{"lessons": {}}',  # no version
        b'{"version": "1", "lessons": {}}',
        b'{"version": 0, "lessons": {}}',
        b'{"version": 1, "lessons": [1, 2]}',  # lessons not an object
        b"[" * 100000,  # deep nesting
    ],
    ids=["truncated", "empty", "not-utf8", "list", "string", "no-version",
         "string-version", "version-0", "lessons-list", "deep"],
)
def test_unusable_file_is_set_aside_and_never_raises(path, content):
    write_raw(path, content)
    p = Progress.load(path)
    assert p.finished == set() and p.last_lesson is None
    assert p.warning and "progress.json.corrupt-" in p.warning
    assert not path.exists()
    (aside,) = corrupt_copies(path)
    assert aside.read_bytes() == content  # kept as it was
    # The next save starts a fresh, valid file.
    p.mark_finished("a")
    assert p.save()
    assert Progress.load(path).finished == {"a"}


def test_two_corrupt_files_in_the_same_second_both_kept(path, monkeypatch):
    monkeypatch.setattr(progress_module.time, "gmtime", lambda: (2026, 1, 2, 3, 4, 5, 0, 2, 0))
    write_raw(path, "first{")
    Progress.load(path)
    write_raw(path, "second{")
    Progress.load(path)
    copies = corrupt_copies(path)
    assert [c.read_text() for c in copies] == ["first{", "second{"]
    assert copies[0].name == "progress.json.corrupt-20260102T030405"


def test_wrong_types_inside_valid_json_are_dropped_keeping_the_rest(path):
    write_raw(path, json.dumps({
        "version": 1,
        "last_lesson": 42,
        "lessons": {
            "good": {"finished": True, "position": {"section": 1, "cell": 2},
                     "lr_history": [0.1, 0.2]},
            "bad-finished": {"finished": "yes"},
            "bad-position": {"position": {"section": "1", "cell": 2}},
            "negative": {"position": {"section": -1, "cell": 0}},
            "bool-position": {"position": {"section": True, "cell": 0}},
            "bad-lrs": {"lr_history": [0.5, "x", None, -1, 0, True, 0.25]},
            "lr-not-list": {"lr_history": 0.3},
            "not-an-object": [1, 2],
        },
    }))
    p = Progress.load(path)
    assert p.finished == {"good"}
    assert p.position("good") == {"section": 1, "cell": 2}
    assert p.lr_history("good") == [0.1, 0.2]
    for lesson in ("bad-position", "negative", "bool-position"):
        assert p.position(lesson) is None
    assert p.lr_history("bad-lrs") == [0.5, 0.25]
    assert p.lr_history("lr-not-list") == []
    assert p.last_lesson is None
    assert p.warning and "ignored" in p.warning
    assert path.exists() and corrupt_copies(path) == []


def test_nan_in_json_lr_history_is_dropped(path):
    write_raw(path, '{"version": 1, "lessons": {"a": {"lr_history": [NaN, Infinity, 0.1]}}}')
    p = Progress.load(path)
    assert p.lr_history("a") == [0.1]
    assert p.warning


def test_over_long_lr_history_in_file_is_trimmed(path):
    values = [0.001 * (i + 1) for i in range(50)]
    write_raw(path, json.dumps({"version": 1, "lessons": {"a": {"lr_history": values}}}))
    assert Progress.load(path).lr_history("a") == values[-LR_HISTORY_LIMIT:]


def test_unreadable_path_a_directory_is_set_aside(path):
    path.mkdir(parents=True)
    (path / "inside").write_text("x")
    p = Progress.load(path)
    assert p.warning and "could not read" in p.warning
    (aside,) = corrupt_copies(path)
    assert (aside / "inside").read_text() == "x"
    p.mark_finished("a")
    assert p.save() and Progress.load(path).finished == {"a"}


@pytest.mark.skipif(IS_ROOT, reason="root reads files whatever their mode")
def test_unreadable_file_mode_000_is_set_aside(path):
    write_raw(path, '{"version": 1, "lessons": {}}')
    path.chmod(0)
    p = Progress.load(path)
    assert p.warning and "could not read" in p.warning
    assert len(corrupt_copies(path)) == 1


def test_newer_format_is_left_alone(path):
    content = '{"version": 99, "lessons": {"a": {"finished": true}}}'
    write_raw(path, content)
    p = Progress.load(path)
    assert p.finished == set()
    assert p.warning and "newer" in p.warning
    p.mark_finished("b")
    assert p.save() is False
    assert path.read_text() == content


def test_failed_save_returns_false_with_warning_when_directory_cannot_be_made(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    p = Progress.load(blocker / "tutor" / "progress.json")
    p.mark_finished("a")
    assert p.save() is False
    assert p.warning and "Could not save progress" in p.warning
    assert blocker.read_text() == "not a directory"


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only directories")
def test_failed_save_into_read_only_directory(path):
    path.parent.mkdir(parents=True)
    path.parent.chmod(0o500)
    try:
        p = Progress.load(path)
        p.mark_finished("a")
        assert p.save() is False
        assert p.warning
    finally:
        path.parent.chmod(0o700)


def saved_with(path: Path, lesson: str) -> Path:
    p = Progress.load(path)
    p.mark_finished(lesson)
    assert p.save()
    return path


def test_crash_before_replace_keeps_the_old_file(path, monkeypatch):
    saved_with(path, "old")
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(progress_module.os, "replace", crash)
    p = Progress.load(path)
    p.mark_finished("new")
    assert p.save() is False
    assert "No space left" in p.warning
    assert path.read_bytes() == before
    assert [f.name for f in path.parent.iterdir()] == ["progress.json"]


def test_interrupt_during_write_keeps_the_old_file(path, monkeypatch):
    """Even an exception that is not an I/O error (Ctrl-C mid-save) leaves no half file."""
    saved_with(path, "old")
    before = path.read_bytes()

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(progress_module.os, "fsync", interrupted)
    p = Progress.load(path)
    p.mark_finished("new")
    with pytest.raises(KeyboardInterrupt):
        p.save()
    assert path.read_bytes() == before
    assert [f.name for f in path.parent.iterdir()] == ["progress.json"]


def test_saved_file_is_complete_when_replace_happens(path, monkeypatch):
    """What os.replace moves into place is already the whole, fsynced content."""
    seen = {}
    real_replace = os.replace

    def checking_replace(src, dst):
        seen["content"] = json.loads(Path(src).read_text())
        seen["mode"] = stat.S_IMODE(os.stat(src).st_mode)
        real_replace(src, dst)

    monkeypatch.setattr(progress_module.os, "replace", checking_replace)
    p = Progress.load(path)
    p.set_position("a", 1, 2)
    assert p.save()
    assert seen["content"]["lessons"]["a"]["position"] == {"section": 1, "cell": 2}
    assert seen["mode"] == 0o600
