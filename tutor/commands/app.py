"""`tutor [LESSON]`: start the app (the picker, or a lesson directly).

Everything that can fail because of the command line (an unknown lesson, a missing
lesson directory) fails here, before the terminal is taken over, as a UsageError.
Torch is not imported here: the app loads it in the background after its first frame.
"""

from __future__ import annotations

from pathlib import Path

from tutor.cli import UsageError


def build_app(args, progress_path: Path | None = None, on_first_frame=None):
    """The app for `args` (also used by tests and benchmarks; they pass their own
    `progress_path` so that nothing touches the learner's real progress file)."""
    from tutor.engine import loader
    from tutor.ui.app import TutorApp

    lessons_dir = Path(args.lessons) if args.lessons else loader.bundled_lessons_dir()
    if args.lessons and not lessons_dir.is_dir():
        raise UsageError(f"lesson directory not found: {lessons_dir}")
    lessons, errors = loader.discover(lessons_dir)
    open_lesson = None
    if args.lesson:
        try:
            open_lesson = loader.find_lesson(args.lesson, lessons_dir)
        except loader.LessonError as exc:
            raise UsageError(str(exc)) from None
        if open_lesson is None:
            raise UsageError(f"unknown lesson: {args.lesson}")
    return TutorApp(
        lessons,
        [_relative(str(e), lessons_dir) for e in errors],
        lessons_dir=lessons_dir,
        lang=args.lang,
        open_lesson=open_lesson,
        progress_path=progress_path,
        on_first_frame=on_first_frame,
    )


def _relative(message: str, lessons_dir: Path) -> str:
    """`01-x.md:3: ...` rather than the full path: the picker has 80 columns."""
    prefix = str(lessons_dir).rstrip("/") + "/"
    return message[len(prefix):] if message.startswith(prefix) else message


def main(args) -> int:
    app = build_app(args)
    app.run()
    return 0
