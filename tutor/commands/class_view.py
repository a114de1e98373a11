"""`tutor class --state DIR [--json]`: the teacher's view of a `tutor serve` class.

Reads only the learners' state files under DIR (see tutor/serve/roster.py). With
`--json`, one JSON array (one object per learner) on stdout, for scripts; without,
a Textual screen that re-reads the files every few seconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tutor.errors import UsageError


def main(args) -> int:
    from tutor.engine import loader
    from tutor.serve.roster import read_class, to_json

    state_dir = Path(args.state)
    if not state_dir.is_dir():
        raise UsageError(f"state directory not found: {state_dir}")
    lessons_dir = Path(args.lessons) if args.lessons else loader.bundled_lessons_dir()
    if args.lessons and not lessons_dir.is_dir():
        raise UsageError(f"lesson directory not found: {lessons_dir}")
    lessons, _errors = loader.discover(lessons_dir)
    if args.json:
        json.dump(to_json(read_class(state_dir, lessons)), sys.stdout, ensure_ascii=False,
                  indent=1)
        sys.stdout.write("\n")
        return 0
    from tutor.terminal import terminal_problem

    problem = terminal_problem()
    if problem:
        raise UsageError(problem)
    from tutor.ui.screens.class_view import ClassApp

    ClassApp(state_dir, lessons, lang=args.lang).run()
    return 0
