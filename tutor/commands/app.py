"""`tutor [LESSON]`: start the app (the picker, or a lesson directly).

Everything that can fail because of the command line (an unknown lesson, a missing
lesson directory) fails here, before the terminal is taken over, as a UsageError.
Torch is not imported here: the app loads it in the background after its first frame.
"""

from __future__ import annotations

from pathlib import Path

from tutor.errors import UsageError


def build_app(args, progress_path: Path | None = None, on_first_frame=None, kernel_host=None,
              lesson_cache: Path | None = None):
    """The app for `args` (also used by tests and benchmarks; they pass their own
    `progress_path` so that nothing touches the learner's real progress file, and
    may share one `kernel_host` between apps: one zygote instead of one per app).
    `lesson_cache`: a directory keeping the parsed lessons between starts
    (engine/lesson_index.py; `tutor` passes the learner's cache directory)."""
    from tutor.engine import lesson_index
    from tutor.engine.kernel.protocol import DEFAULT_MEMORY, parse_size

    lessons_dir = Path(args.lessons) if args.lessons else lesson_index.bundled_lessons_dir()
    if args.lessons and not lessons_dir.is_dir():
        raise UsageError(f"lesson directory not found: {lessons_dir}")
    if lesson_cache is not None:
        lessons, errors = lesson_index.discover_cached(lessons_dir, lesson_cache)
    else:
        from tutor.engine.loader import discover

        lessons, errors = discover(lessons_dir)
    if not lessons and not any(lessons_dir.glob("*.md")):
        raise UsageError(f"no lesson files (*.md) in {lessons_dir}")
    memory = None
    if getattr(args, "kernel_memory", None):
        try:
            memory = parse_size(args.kernel_memory)
        except ValueError as exc:
            raise UsageError(f"--kernel-memory: {exc}") from None
    open_lesson = None
    if args.lesson:
        from tutor.engine import loader

        try:  # from the lessons listed above, not parsed a second time
            open_lesson = loader.find_lesson(args.lesson, lessons_dir, (lessons, errors))
        except loader.LessonError as exc:
            raise UsageError(str(exc)) from None
        if open_lesson is None:
            raise UsageError(f"unknown lesson: {args.lesson}")
    own_host = kernel_host is None
    if own_host:
        # The zygote starts before Textual is even imported: torch's import (2 s and
        # more) runs on the other core while the app imports, reads lessons and paints.
        from tutor.engine.kernel.host import KernelHost

        kernel_host = KernelHost(memory=memory or DEFAULT_MEMORY)
    from tutor.ui.app import TutorApp
    from tutor.ui.reload import relative_error

    return TutorApp(
        lessons,
        [relative_error(str(e), lessons_dir) for e in errors],
        lessons_dir=lessons_dir,
        lang=args.lang,
        open_lesson=open_lesson,
        progress_path=progress_path,
        on_first_frame=on_first_frame,
        live_reload=bool(getattr(args, "watch", False)),
        kernel_host=kernel_host,
        owns_kernel_host=own_host,
        kernel_memory=memory,
    )


def main(args) -> int:
    from tutor.terminal import terminal_problem

    from tutor.engine.lesson_index import default_cache_dir

    app = build_app(args, lesson_cache=default_cache_dir())  # bad arguments first, terminal or not
    problem = terminal_problem()
    if problem:  # before the screen is taken over: a line, not escape codes
        raise UsageError(problem)
    app.run()
    return 0
