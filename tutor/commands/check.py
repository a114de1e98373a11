"""`tutor check [--run] PATH...`: validate lesson files and directories.

Prints every problem as `PATH:LINE: message` (warnings as `PATH:LINE: warning: ...`)
and exits 1 if there is any error, 0 otherwise. A directory means its `*.md` files;
ids must be unique across everything checked. Without `--run` no lesson code is
executed (and torch is not imported); with it, each lesson without errors is then
run headless and its output blocks compared (tutor.engine.run_check), and the
problems of each file are printed as soon as that file is done. When everything
ran without an error, `--run` ends with one summary line (lessons, cells run, output
blocks matched, seconds). `--update` (with `--run`) rewrites the output blocks that
differ with what their cells printed, says what it changed, and counts those blocks
as fixed; code and prose are left untouched.
"""

from __future__ import annotations

import time
from pathlib import Path

from tutor.errors import UsageError


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
    unique: dict[Path, Path] = {}
    for path in files:  # a file named twice is checked once (not a duplicate id)
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def main(args) -> int:
    from tutor.engine import checker

    update = getattr(args, "update", False)
    if update and not args.run:
        raise UsageError("--update needs --run (the output blocks are rewritten with what the cells print)")
    started = time.perf_counter()
    files = _files(args.paths)
    lessons, problems = checker.check_files(files)
    runnable = {lesson.path: lesson for lesson in lessons} if args.run else {}
    if runnable:
        from tutor.engine.run_check import run_lesson, update_blocks
    failed = False
    cells = matched = 0
    for path in files:
        found = [p for p in problems if p.path == path]
        if path in runnable:
            result = run_lesson(runnable[path])
            cells += result.cells_run
            matched += result.blocks_matched
            ran = result.problems
            if update and result.differing:
                for note in update_blocks(path, result.differing):
                    print(f"{path}: updated {note}", flush=True)
                matched += len(result.differing)
                fixed = {id(d.problem) for d in result.differing}
                ran = [p for p in ran if id(p) not in fixed]
            found += ran
        for problem in found:
            print(problem, flush=True)
        failed = failed or any(getattr(p, "severity", "error") == "error" for p in found)
    if args.run and not failed:
        seconds = time.perf_counter() - started
        print(f"ok: {len(runnable)} lesson{'s' if len(runnable) != 1 else ''}, {cells} cells run, "
              f"{matched} output blocks matched, {seconds:.1f} s", flush=True)
    return 1 if failed else 0
