"""`tutor list [--json]`: the lessons of the lesson directory, in file-name order.

Plain output is one lesson per line, `id  title` in the chosen language; `--json`
prints an array of `{id, title: {en, ko}, path}`. Files that do not load are named
on stderr (`PATH:LINE: message`) and the valid lessons are still listed; a missing
or empty lesson directory is bad input (exit 2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tutor.errors import UsageError


def main(args) -> int:
    from tutor.engine import loader

    lessons_dir = Path(args.lessons) if args.lessons else loader.bundled_lessons_dir()
    if not lessons_dir.is_dir():
        raise UsageError(f"lesson directory not found: {lessons_dir}")
    if not loader.lesson_files(lessons_dir):
        raise UsageError(f"no lesson files (*.md) in {lessons_dir}")
    lessons, errors = loader.discover(lessons_dir)
    for error in errors:
        print(error, file=sys.stderr)
    if args.json:
        rows = [
            {"id": lesson.id, "title": {"en": lesson.title.en, "ko": lesson.title.ko},
             "path": str(lesson.path)}
            for lesson in lessons
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        width = max((len(lesson.id) for lesson in lessons), default=0)
        for lesson in lessons:
            print(f"{lesson.id:<{width}}  {lesson.title.get(args.lang)}")
    return 0
