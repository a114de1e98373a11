"""A learner's edit of one code cell: check it, run it, keep a copy of it.

The lesson screen lets the learner rewrite the current cell and run the lesson again
from the start. This module holds the parts of that which need no screen:

- `check_source` compiles the edited text and locates a syntax error in the lesson
  file, so the editor can refuse it before anything runs.
- `replace_cell_source` builds the lesson to run: the same lesson with one cell's
  source replaced.
- `lesson_copy_text` / `save_lesson_copy` write the whole lesson, with the edited
  cell, as the learner's own lesson file (`<stem>-mine.md`, id `<id>-mine`) in their
  lesson directory. The original file is never written.

Line numbers. Every cell keeps its `line` (the lesson-file line of its first code
line). For the edited cell, line `k` of the new source is reported as lesson line
`cell.line + k - 1`: that is exactly where it sits in the saved copy, whose edited
fence starts where the original one did. Other cells keep the lines they have in the
original file (in the saved copy, the cells after the edited one move by the number
of lines the edit added or removed; loading the copy gives their new lines).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import warnings
from pathlib import Path

import platformdirs
import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.front_matter import front_matter_plugin

from tutor.engine.lesson import Lesson

MINE_SUFFIX = "-mine"


def user_lessons_dir() -> Path:
    """The learner's own lesson directory (follows XDG_DATA_HOME):
    `~/.local/share/tutor/lessons` by default. Under `tutor serve` each learner's app
    gets `TUTOR_STATE_DIR` and keeps its copies in `$TUTOR_STATE_DIR/lessons`, beside
    its progress, so one learner's edits never land where another's app looks."""
    override = os.environ.get("TUTOR_STATE_DIR")
    if override:
        return Path(override) / "lessons"
    return platformdirs.user_data_path("tutor") / "lessons"


def replace_cell_source(lesson: Lesson, cell_index: int, new_source: str) -> Lesson:
    """The same lesson with cell `cell_index`'s source replaced.

    Everything else (other cells, sections, the cell's own `line`, its expected
    output) is kept, so the runner reports errors in the edited cell at
    `cell.line + k - 1` for line `k` of `new_source` (see the module docstring).
    """
    if not 0 <= cell_index < len(lesson.cells):
        raise IndexError(f"lesson {lesson.id!r} has no cell {cell_index}")
    cells = list(lesson.cells)
    cells[cell_index] = dataclasses.replace(cells[cell_index], source=new_source)
    return dataclasses.replace(lesson, cells=tuple(cells))


def check_source(source: str, first_line: int, filename: str = "<cell>") -> tuple[int, str] | None:
    """None when `source` compiles; else (lesson-file line, message) of the error.

    `first_line` is the lesson-file line of the source's first line (`Cell.line`).
    The full compiler is used, not only the parser, so errors such as `return`
    outside a function are caught too. Compiling runs no lesson code.
    """
    found = locate_syntax_error(source, filename)
    if found is None:
        return None
    row, _column, message = found
    return first_line + row - 1, message


def locate_syntax_error(source: str, filename: str = "<cell>") -> tuple[int, int, str] | None:
    """None when `source` compiles; else (1-based row in `source`, 0-based column,
    message), for an editor that puts the cursor on the error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning (e.g. `x is 1`) is not an error
            compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:  # IndentationError and TabError are SyntaxErrors
        row = exc.lineno if exc.lineno and exc.lineno > 0 else 1
        column = exc.offset - 1 if exc.offset and exc.offset > 0 else 0
        return row, column, exc.msg or "invalid syntax"
    except ValueError as exc:  # e.g. "source code string cannot contain null bytes"
        return 1, 0, str(exc)
    return None


def mine_names(lesson: Lesson, dest_dir: Path) -> tuple[str, str]:
    """(file stem, lesson id) for the learner's copy of `lesson` in `dest_dir`.

    A lesson that already is the learner's copy (its stem ends with `-mine` and it
    lives in `dest_dir`) keeps its names, so saving again overwrites it; any other
    lesson gets `-mine` added, so its own file is never the target.
    """
    stem, lesson_id = lesson.path.stem, lesson.id
    own_copy = stem.endswith(MINE_SUFFIX) and _same_dir(lesson.path.parent, dest_dir)
    if own_copy:
        return stem, lesson_id if lesson_id.endswith(MINE_SUFFIX) else lesson_id + MINE_SUFFIX
    return stem + MINE_SUFFIX, lesson_id + MINE_SUFFIX


def lesson_copy_text(
    original_text: str, lesson: Lesson, cell_index: int, new_source: str, new_id: str
) -> str:
    """The lesson file's text with the edited fence's contents and the id changed.

    The fence rewritten is the one opening on line `cell.fence_line`, with
    `new_source`. Any other cell of `lesson` whose source differs from its fence in
    `original_text` (an earlier edit of this session, made with
    `replace_cell_source`) is written too, so a copy keeps every edit the running
    lesson carries. Every other byte of `original_text` is kept, line endings
    included. If a source holds a line that would close its fence early, that
    fence's markers are made longer (the only other change then). Raises ValueError
    when the text does not match the lesson (no closed fence where a cell says,
    no top-level `id:` line in the front matter).
    """
    fences = _fence_tokens(original_text)
    edits = {cell_index: new_source}
    for cell in lesson.cells:
        token = fences.get(cell.fence_line - 1)
        if cell.index != cell_index and token is not None:
            if token.content.rstrip("\n") != cell.source.rstrip("\n"):
                edits[cell.index] = cell.source
    lines = _split_lines(original_text)
    # bottom-up, so the rows of the fences still to rewrite do not move
    for index in sorted(edits, key=lambda i: lesson.cells[i].line, reverse=True):
        cell = lesson.cells[index]
        token = fences.get(cell.fence_line - 1)
        if token is None:
            raise ValueError(f"{lesson.path}:{cell.fence_line}: no code fence opens here")
        lines = _rewrite_fence(lines, token, edits[index], lesson, cell.fence_line)
    return _replace_id("".join(lines), new_id, lesson)


def _rewrite_fence(lines: list[str], token, source: str, lesson: Lesson, line: int) -> list[str]:
    """`lines` with the contents of the fence `token` replaced by `source`."""
    fence_row, end_row = token.map  # end_row: one past the closing fence
    opening = lines[fence_row]
    marker = token.markup
    if not (end_row - 1 > fence_row and _closes(lines[end_row - 1], marker)):
        raise ValueError(f"{lesson.path}:{line}: code fence is not closed")
    closing = lines[end_row - 1]
    indent = opening[: len(opening) - len(opening.lstrip(" "))]
    newline = _line_ending(opening)

    body = source.split("\n")
    if body and body[-1] == "":
        body.pop()  # a trailing newline ends the last line, it is not an empty line
    longest = max((_run_at_start(row, marker[0]) for row in body), default=0)
    if longest >= len(marker):
        longer = marker[0] * (longest + 1)
        opening = opening.replace(marker, longer, 1)
        closing = closing.replace(marker, longer, 1)
    new_body = [(indent + row if row else row) + newline for row in body]
    return lines[:fence_row] + [opening] + new_body + [closing] + lines[end_row:]


def save_lesson_copy(
    lesson: Lesson,
    cell_index: int,
    new_source: str,
    dest_dir: Path | None = None,
    original_text: str | None = None,
) -> Path:
    """Write the learner's copy of `lesson` with the edited cell; return its path.

    `dest_dir` defaults to `user_lessons_dir()` and is created (0700) when missing.
    The file is `<stem>-mine.md` with id `<id>-mine` (see `mine_names`); an earlier
    copy of that name is replaced, the original lesson file never. The write is
    atomic: a temporary file in the same directory is fsynced and renamed over.
    """
    dest_dir = Path(dest_dir) if dest_dir is not None else user_lessons_dir()
    if original_text is None:
        original_text = lesson.path.read_text(encoding="utf-8")
    stem, new_id = mine_names(lesson, dest_dir)
    text = lesson_copy_text(original_text, lesson, cell_index, new_source, new_id)
    dest_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = dest_dir / f"{stem}.md"
    if target.resolve() == lesson.path.resolve() and not stem.endswith(MINE_SUFFIX):
        raise ValueError(f"refusing to overwrite the original lesson {lesson.path}")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=dest_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return target


# --- helpers ---------------------------------------------------------------------

_ID_LINE = re.compile(r"^(id[ \t]*:[ \t]*)(\S[^\r\n#]*?|)([ \t]*(?:#[^\r\n]*)?)(\r?\n?)$")


def _split_lines(text: str) -> list[str]:
    """Lines with their endings kept, split on "\\n" only (as markdown-it counts them;
    str.splitlines would also split on form feeds and other separators)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _line_ending(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    return "\n" if line.endswith("\n") else ""


def _run_at_start(line: str, char: str) -> int:
    """Length of the run of `char` at the start of `line` after up to 3 spaces."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3:
        return 0
    return len(stripped) - len(stripped.lstrip(char))


def _closes(line: str, marker: str) -> bool:
    """Whether `line` is a closing fence for an opening `marker` (CommonMark rule)."""
    body = line.rstrip("\r\n")
    run = _run_at_start(body, marker[0])
    return run >= len(marker) and body.strip(" \t")[run:] == ""


def _fence_tokens(text: str) -> dict:
    """markdown-it fence tokens by the 0-based row of their opening line."""
    md = MarkdownIt("commonmark").use(front_matter_plugin)
    return {t.map[0]: t for t in md.parse(text) if t.type == "fence" and t.map}


def _replace_id(text: str, new_id: str, lesson: Lesson) -> str:
    """Rewrite the value of the top-level `id:` line of the front matter, then
    check with YAML that the front matter now says `id: new_id`."""
    lines = _split_lines(text)
    if not lines or lines[0].rstrip("\r\n") != "---":
        raise ValueError(f"{lesson.path}:1: no front matter")
    end = next((r for r in range(1, len(lines)) if lines[r].rstrip("\r\n") == "---"), None)
    if end is None:
        raise ValueError(f"{lesson.path}:1: front matter is not closed")
    for row in range(1, end):
        match = _ID_LINE.match(lines[row])
        if match:
            prefix, _old, trailer, ending = match.groups()
            lines[row] = f"{prefix}{new_id}{trailer}{ending}"
            parsed = yaml.safe_load("".join(lines[1:end]))
            if not isinstance(parsed, dict) or parsed.get("id") != new_id:
                raise ValueError(f"{lesson.path}:{row + 1}: could not rewrite the id")
            return "".join(lines)
    raise ValueError(f"{lesson.path}: front matter has no top-level `id:` line")


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
