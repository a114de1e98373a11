"""Live reload (`--watch`): notice that lesson files changed, and re-read them.

Files are polled (modification time and size, twice a second) rather than watched
with inotify: polling needs no extra dependency, works the same over SSH, on network
file systems and in containers, and costs one `stat` per file per poll.

A changed lesson is read with the checker, not only the loader, so a file saved with
a Python syntax error in a cell is reported at once (as `tutor check` would) instead
of failing later when the learner runs that cell.
"""

from __future__ import annotations

from pathlib import Path

from tutor.engine.lesson import Lesson
from tutor.engine.lesson_index import dir_signature, file_signature  # noqa: F401 - the app's, the screen's

POLL_SECONDS = 0.5


def relative_error(message: str, lessons_dir: Path | str) -> str:
    """`01-x.md:3: ...` rather than the full path: the picker has 80 columns."""
    prefix = str(lessons_dir).rstrip("/") + "/"
    return message[len(prefix):] if message.startswith(prefix) else message


def reload_lesson(path: Path) -> tuple[Lesson | None, list[str]]:
    """The lesson in `path` and no errors, or None and its errors as `file:line: message`
    (warnings are not errors: a lesson with warnings still loads)."""
    from tutor.engine import checker  # (the parser: not needed for the first frame)

    lesson, problems = checker.check_file(path)
    errors = [str(p) for p in problems if p.is_error]
    if lesson is None and not errors:  # defensive: the checker always says why
        errors = [f"{path}: could not be read"]
    return (lesson, []) if not errors else (None, errors)
