"""`tutor check --run`: run a lesson headless and compare every ```output block.

Each runnable cell that has an output block and ran is compared with what it
printed (`compare.compare_output`). A mismatch is reported at the output block's
fence line, with the first differing line, shortly; an exception in lesson code is
reported at its line, and the blocks of cells that never ran are not compared.
"""

from __future__ import annotations

from tutor.engine.compare import compare_output
from tutor.engine.lesson import Lesson

try:
    from tutor.engine.checker import Problem
except ImportError:  # pragma: no cover - until the checker module exists
    from dataclasses import dataclass
    from pathlib import Path

    @dataclass(frozen=True)
    class Problem:  # type: ignore[no-redef]
        path: Path
        line: int
        message: str
        severity: str = "error"

        def __str__(self) -> str:
            return f"{self.path}:{self.line}: {self.message}"


def run_and_compare(lesson: Lesson) -> list[Problem]:
    from tutor.engine.runner import Runner

    state = Runner(lesson).run_to_end()
    problems: list[Problem] = []
    for cell in lesson.runnable_cells:
        block = cell.expected
        if block is None or cell.index not in state.cells_done:
            continue
        got = state.outputs.get(cell.index, "")
        mismatch = compare_output(block.text, got)
        if mismatch is not None:
            problems.append(Problem(
                path=lesson.path,
                line=block.line,
                message=f"output differs at its line {mismatch.index + 1}: {mismatch.describe()}",
            ))
    if state.error is not None:
        error = state.error
        first = error.message.strip().splitlines()[0] if error.message.strip() else ""
        problems.append(Problem(path=lesson.path, line=error.line, message=f"{error.type}: {first}"))
    return sorted(problems, key=lambda p: p.line)
