"""Editing a cell: the replaced lesson, syntax-error lines, the learner's copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tutor.engine.edit import (
    check_source,
    locate_syntax_error,
    lesson_copy_text,
    mine_names,
    replace_cell_source,
    save_lesson_copy,
    user_lessons_dir,
)
from tutor.engine.lesson import Cell, Lesson, OutputBlock, Section, Text

# Line numbers are written beside the text so the Cell lines below can be checked by eye.
LESSON_TEXT = (
    "---\n"  # 1
    "id: demo  # keep this comment\n"  # 2
    "title: {en: Demo, ko: 데모}\n"  # 3
    "---\n"  # 4
    "\n"  # 5
    "## Start | 시작\n"  # 6
    "\n"  # 7
    "```python\n"  # 8
    "x = 2\n"  # 9  cell 0
    "x * 3\n"  # 10
    "```\n"  # 11
    "```output\n"  # 12
    "6\n"  # 13
    "```\n"  # 14
    "\n"  # 15
    "::: en\n"  # 16
    "Now print it.\n"  # 17
    ":::\n"  # 18
    "\n"  # 19
    "```python\n"  # 20
    "print(x)\n"  # 21  cell 1
    "```\n"  # 22
    "\n"  # 23
    "```python norun\n"  # 24
    "x = = 1\n"  # 25  cell 2
    "```\n"  # 26
)


def make_lesson(path: Path) -> Lesson:
    """The Lesson the loader makes from LESSON_TEXT, written out by hand."""
    cells = (
        Cell(0, "x = 2\nx * 3\n", 9, 1, expected=OutputBlock("6\n", 12)),
        Cell(1, "print(x)\n", 21, 1),
        Cell(2, "x = = 1\n", 25, 1, norun=True),
    )
    sections = (
        Section(0, Text("Demo", "데모"), Text(), 1),
        Section(1, Text("Start", "시작"), Text("Now print it.", ""), 6, cells=(0, 1, 2)),
    )
    return Lesson(
        id="demo", title=Text("Demo", "데모"), path=path, sections=sections, cells=cells
    )


@pytest.fixture
def lesson_file(tmp_path: Path) -> Path:
    path = tmp_path / "bundled" / "03-demo.md"
    path.parent.mkdir()
    path.write_bytes(LESSON_TEXT.encode("utf-8"))
    return path


# --- replace_cell_source ---------------------------------------------------------


def test_replace_cell_source_changes_only_that_cell(tmp_path: Path) -> None:
    lesson = make_lesson(tmp_path / "x.md")
    edited = replace_cell_source(lesson, 1, "print(x + 1)\nprint('more')\n")
    assert edited.cells[1].source == "print(x + 1)\nprint('more')\n"
    assert edited.cells[1].line == 21  # first line stays where the fence starts
    assert edited.cells[0] is lesson.cells[0] and edited.cells[2] is lesson.cells[2]
    assert edited.sections == lesson.sections and edited.id == lesson.id
    assert lesson.cells[1].source == "print(x)\n"  # the original is untouched
    with pytest.raises(IndexError):
        replace_cell_source(lesson, 3, "")


def test_replace_cell_source_keeps_expected_output(tmp_path: Path) -> None:
    lesson = make_lesson(tmp_path / "x.md")
    edited = replace_cell_source(lesson, 0, "x = 5\nx * 3\n")
    assert edited.cells[0].expected == OutputBlock("6\n", 12)


# --- check_source: error lines in lesson-file numbering --------------------------


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("x = 1\nif x\n    pass\n", 10, "expected ':'"),
        ("x = (1,\n", 9, "never closed"),
        ("a = 1\nb = 2\nreturn a\n", 11, "'return' outside function"),
        ("def f():\n    x = 1\n  y = 2\n", 11, "unindent"),
        ("x = 1\n\n\n\nx = = 2\n", 13, "invalid syntax"),
    ],
)
def test_check_source_maps_error_to_lesson_line(source: str, line: int, words: str) -> None:
    result = check_source(source, first_line=9)
    assert result is not None
    got_line, message = result
    assert got_line == line
    assert words in message


def test_check_source_accepts_valid_code_and_warnings() -> None:
    assert check_source("x = 1\nfor i in range(3):\n    x += i\nx\n", 9) is None
    assert check_source("x = 1\nx is 1\n", 9) is None  # a SyntaxWarning, not an error
    assert check_source("", 9) is None


def test_check_source_agrees_with_python_on_the_line() -> None:
    source = "import torch\nw = torch.zeros(2\nprint(w)\n"
    try:
        compile(source, "<x>", "exec")
    except SyntaxError as exc:
        expected = 40 + exc.lineno - 1
    assert check_source(source, 40) == (expected, check_source(source, 1)[1])


def test_locate_syntax_error_gives_row_and_column_in_the_source() -> None:
    assert locate_syntax_error("w = 1\nif w\n    pass\n") == (2, 4, "expected ':'")
    assert locate_syntax_error("x = (1,\n") == (1, 4, "'(' was never closed")
    assert locate_syntax_error("x = 1\n") is None


def test_check_source_null_byte() -> None:
    assert check_source("x = 1\x00", 7) == (7, "source code string cannot contain null bytes")


# --- lesson_copy_text --------------------------------------------------------------


def test_copy_text_differs_only_in_fence_and_id(lesson_file: Path) -> None:
    lesson = make_lesson(lesson_file)
    new = lesson_copy_text(LESSON_TEXT, lesson, 1, "print(x)\nprint(x + 1)\n", "demo-mine")
    old_lines = LESSON_TEXT.split("\n")
    new_lines = new.split("\n")
    assert new_lines[1] == "id: demo-mine  # keep this comment"
    # before the edited cell's first line: only the id line differs
    assert new_lines[:1] + new_lines[2:20] == old_lines[:1] + old_lines[2:20]
    assert new_lines[20:22] == ["print(x)", "print(x + 1)"]
    # after the fence contents everything is the original, moved down one line
    assert new_lines[22:] == old_lines[21:]


def test_copy_text_shorter_and_empty_sources(lesson_file: Path) -> None:
    lesson = make_lesson(lesson_file)
    new = lesson_copy_text(LESSON_TEXT, lesson, 0, "x = 7", "d2")
    expected = (
        LESSON_TEXT.replace("id: demo ", "id: d2 ", 1).replace("x = 2\nx * 3\n", "x = 7\n", 1)
    )
    assert new == expected
    emptied = lesson_copy_text(LESSON_TEXT, lesson, 2, "", "d2")
    assert emptied == LESSON_TEXT.replace("id: demo ", "id: d2 ", 1).replace(
        "```python norun\nx = = 1\n```", "```python norun\n```"
    )


def test_copy_text_keeps_crlf_and_unicode_bytes(lesson_file: Path) -> None:
    lesson = make_lesson(lesson_file)
    crlf = LESSON_TEXT.replace("\n", "\r\n")
    new = lesson_copy_text(crlf, lesson, 1, "print('가')\n", "demo-mine")
    expected = crlf.replace("id: demo ", "id: demo-mine ", 1).replace(
        "print(x)\r\n", "print('가')\r\n", 1
    )
    assert new.encode("utf-8") == expected.encode("utf-8")


def test_copy_text_lengthens_fence_when_source_holds_one(lesson_file: Path) -> None:
    lesson = make_lesson(lesson_file)
    source = 's = """\n```\n"""\nprint(s)\n'
    new = lesson_copy_text(LESSON_TEXT, lesson, 1, source, "demo-mine")
    assert "\n````python\n" + source + "````\n" in new
    # the other fences keep their three backticks
    assert new.count("\n```python\n") == 1 and "```python norun\n" in new


def test_copy_text_indented_fence(tmp_path: Path) -> None:
    text = "---\nid: ind\ntitle: {en: I, ko: I}\n---\n\n  ```python\n  a = 1\n   b = 2\n  ```\n"
    lesson = Lesson(
        id="ind", title=Text.both("I"), path=tmp_path / "i.md",
        cells=(Cell(0, "a = 1\n b = 2\n", 7, 0),),
    )
    new = lesson_copy_text(text, lesson, 0, "a = 3\n\nif a:\n    b = 4\n", "ind-mine")
    assert new.endswith("  ```python\n  a = 3\n\n  if a:\n      b = 4\n  ```\n")


def test_copy_text_quoted_id_and_errors(lesson_file: Path) -> None:
    lesson = make_lesson(lesson_file)
    quoted = LESSON_TEXT.replace("id: demo  # keep this comment", "id: 'demo'")
    assert "\nid: demo-mine\n" in lesson_copy_text(quoted, lesson, 0, "x = 1\n", "demo-mine")
    no_id = LESSON_TEXT.replace("id: demo  # keep this comment", "name: demo")
    with pytest.raises(ValueError, match="no top-level `id:`"):
        lesson_copy_text(no_id, lesson, 0, "x = 1\n", "demo-mine")
    with pytest.raises(ValueError, match="no code fence"):
        lesson_copy_text(LESSON_TEXT.replace("```python\nprint", "\nprint"), lesson, 1, "", "d")


def test_copy_text_keeps_earlier_edits_of_the_session(lesson_file: Path) -> None:
    lesson = replace_cell_source(make_lesson(lesson_file), 0, "x = 5\n")  # edited and run
    new = lesson_copy_text(LESSON_TEXT, lesson, 2, "x = 1\n", "demo-mine")
    expected = (
        LESSON_TEXT.replace("id: demo ", "id: demo-mine ", 1)
        .replace("x = 2\nx * 3\n", "x = 5\n", 1)
        .replace("x = = 1\n", "x = 1\n", 1)
    )
    assert new == expected


def test_copy_text_refuses_an_unclosed_fence(tmp_path: Path) -> None:
    text = "---\nid: u\ntitle: {en: U, ko: U}\n---\n\n```python\na = 1\n\nprose?\n"
    lesson = Lesson(
        id="u", title=Text.both("U"), path=tmp_path / "u.md", cells=(Cell(0, "a = 1\n", 7, 0),)
    )
    with pytest.raises(ValueError, match=":6: code fence is not closed"):
        lesson_copy_text(text, lesson, 0, "a = 2\n", "u-mine")


# --- save_lesson_copy --------------------------------------------------------------


def test_save_copy_writes_mine_file_and_never_the_original(
    lesson_file: Path, tmp_path: Path
) -> None:
    lesson = make_lesson(lesson_file)
    before = lesson_file.read_bytes()
    dest = tmp_path / "mine"
    path = save_lesson_copy(lesson, 1, "print(x * 10)\n", dest_dir=dest)
    assert path == dest / "03-demo-mine.md"
    text = path.read_text(encoding="utf-8")
    assert "\nid: demo-mine  # keep this comment\n" in text
    assert "```python\nprint(x * 10)\n```" in text
    assert lesson_file.read_bytes() == before
    assert sorted(p.name for p in dest.iterdir()) == ["03-demo-mine.md"]  # no temp left
    assert (dest.stat().st_mode & 0o777) == 0o700

    # saving again replaces the earlier copy
    again = save_lesson_copy(lesson, 1, "print('again')\n", dest_dir=dest)
    assert again == path and "print('again')" in path.read_text(encoding="utf-8")
    assert lesson_file.read_bytes() == before


def test_resaving_own_copy_keeps_its_names(lesson_file: Path, tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    first = save_lesson_copy(make_lesson(lesson_file), 0, "x = 4\nx * 3\n", dest_dir=dest)
    own = make_lesson(first)
    own = Lesson(**{**own.__dict__, "id": "demo-mine"})
    assert mine_names(own, dest) == ("03-demo-mine", "demo-mine")
    second = save_lesson_copy(own, 0, "x = 5\nx * 3\n", dest_dir=dest)
    assert second == first
    assert "\nid: demo-mine  # keep this comment\n" in second.read_text(encoding="utf-8")
    # a -mine named lesson elsewhere still gets a new name
    assert mine_names(own, tmp_path / "other") == ("03-demo-mine-mine", "demo-mine-mine")


def test_default_dir_follows_xdg_data_home(
    lesson_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert user_lessons_dir() == tmp_path / "data" / "tutor" / "lessons"
    path = save_lesson_copy(make_lesson(lesson_file), 1, "print(1)\n")
    assert path == tmp_path / "data" / "tutor" / "lessons" / "03-demo-mine.md"


def test_failed_write_leaves_no_temp_and_keeps_old_copy(
    lesson_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lesson = make_lesson(lesson_file)
    dest = tmp_path / "mine"
    path = save_lesson_copy(lesson, 1, "print('old')\n", dest_dir=dest)

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_lesson_copy(lesson, 1, "print('new')\n", dest_dir=dest)
    assert "print('old')" in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in dest.iterdir()) == ["03-demo-mine.md"]


# --- with the real loader and runner (when they are in the tree) ------------------


def test_loader_loads_the_copy(lesson_file: Path, tmp_path: Path) -> None:
    loader = pytest.importorskip("tutor.engine.loader")
    original = loader.load_lesson(lesson_file)
    assert [c.line for c in original.cells] == [9, 21, 25]
    path = save_lesson_copy(original, 0, "x = 4\ny = 1\nx * 3\n", dest_dir=tmp_path / "mine")
    copy = loader.load_lesson(path)
    assert copy.id == "demo-mine"
    assert copy.title == original.title
    assert copy.cells[0].source.rstrip("\n") == "x = 4\ny = 1\nx * 3"
    assert copy.cells[0].line == 9
    assert [c.line for c in copy.cells[1:]] == [22, 26]  # moved down by one line
    assert [c.source for c in copy.cells[1:]] == [c.source for c in original.cells[1:]]
    assert copy.cells[0].expected is not None and copy.cells[0].expected.text.strip() == "6"


def test_replaced_cell_runs_and_errors_map_to_lesson_lines(lesson_file: Path) -> None:
    runner_mod = pytest.importorskip("tutor.engine.runner")
    lesson = make_lesson(lesson_file)

    edited = replace_cell_source(lesson, 1, "print(x + 40)\n")
    runner = runner_mod.Runner(edited)
    try:
        state = runner.run_to_end()
    finally:
        runner.close()
    assert state.error is None
    assert state.outputs[1] == "42\n"

    # the edited cell is longer than the original: its third line is lesson line 23
    broken = replace_cell_source(lesson, 1, "y = 1\nz = 2\nraise ValueError('here')\n")
    runner = runner_mod.Runner(broken)
    try:
        state = runner.run_to_end()
    finally:
        runner.close()
    assert state.error is not None
    assert (state.error.cell, state.error.line, state.error.type) == (1, 23, "ValueError")
