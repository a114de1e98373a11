"""`tutor check [--run] PATH...`: validate lesson files and directories.

Prints every problem as `PATH:LINE: message` (warnings as `PATH:LINE: warning: ...`)
and exits 1 if there is any error, 0 otherwise. A directory means its `*.md` files;
ids must be unique across everything checked. Without `--run` no lesson code is
executed (and torch is not imported); with it, each lesson without errors is run
headless and its output blocks are compared (tutor.engine.run_check).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tutor.cli import UsageError


def _files(paths: list[str]) -> list[Path]:
    from tutor.engine.loader import lesson_files

    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = lesson_files(path)
            if not found:
                raise UsageError(f"no lesson files (*.md) in {path}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file or directory: {name}")
    return files


def main(args) -> int:
    from tutor.engine import checker

    files = _files(args.paths)
    lessons, problems = checker.check_files(files)
    if args.run:
        from tutor.engine.run_check import run_and_compare

        for lesson in lessons:
            problems += run_and_compare(lesson)
    for problem in problems:
        print(problem)
    errors = [p for p in problems if getattr(p, "severity", "error") == "error"]
    return 1 if errors else 0
