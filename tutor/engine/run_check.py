"""`tutor check --run`: run a lesson headless and compare every ```output block.

Each runnable cell that has an output block and ran is compared with what it
printed (`compare.compare_output`, design §9). A mismatch is reported at the file
line of the first differing output line, with both lines shown in full (or a window
around the difference when long) and the first difference marked with `^`; an
exception in lesson code is reported at its line, and the blocks of cells that never
ran are not compared. `update_blocks` rewrites the differing blocks with what the
cells printed (`tutor check --run --update`), leaving every other line untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tutor.engine.checker import Problem
from tutor.engine.compare import Mismatch, compare_output, first_difference
from tutor.engine.lesson import Lesson, OutputBlock

WINDOW = 72  # characters of a long line shown around its first difference


@dataclass(frozen=True)
class Differing:
    """An output block whose cell printed something else (for --update)."""

    block: OutputBlock
    got: str
    mismatch: Mismatch
    problem: Problem


@dataclass
class CheckRun:
    """What running one lesson found."""

    problems: list[Problem] = field(default_factory=list)
    cells_run: int = 0
    blocks_matched: int = 0
    differing: list[Differing] = field(default_factory=list)


def _window(line: str, start: int) -> str:
    return ("…" if start > 0 else "") + line[start: start + WINDOW] + ("…" if len(line) > start + WINDOW else "")


def describe(mismatch: Mismatch) -> str:
    """Both lines, the first difference marked with `^` under each."""
    expected, got = mismatch.expected, mismatch.got
    if expected is None or got is None:
        head = "the cell printed more than its output block" if expected is None else \
            "the cell printed less than its output block"
        shown = f"got:      {got.strip()}" if expected is None else f"expected: {expected.strip()}"
        return f"output differs: {head}\n    {shown}"
    e_col, g_col = first_difference(expected, got)
    rows = ["output differs"]
    for label, line, col in (("expected: ", expected, e_col), ("got:      ", got, g_col)):
        start = max(0, col - WINDOW // 3) if len(line) > WINDOW else 0
        shown = _window(line, start)
        mark = col - start + (1 if start > 0 else 0)
        rows.append(f"    {label}{shown}")
        rows.append(" " * (4 + len(label) + mark) + "^")
    return "\n".join(rows)


def difference_line(block: OutputBlock, mismatch: Mismatch) -> int:
    """The lesson-file line of the differing output line (the block's text starts on
    the line after its fence; one past its last line when the cell printed more)."""
    return block.line + 1 + mismatch.index


def run_lesson(lesson: Lesson) -> CheckRun:
    from tutor.engine.runner import Runner

    state = Runner(lesson).run_to_end()
    result = CheckRun(cells_run=len(state.cells_done))
    for cell in lesson.runnable_cells:
        block = cell.expected
        if block is None or cell.index not in state.cells_done:
            continue
        got = state.outputs.get(cell.index, "")
        mismatch = compare_output(block.text, got)
        if mismatch is None:
            result.blocks_matched += 1
            continue
        problem = Problem(path=lesson.path, line=difference_line(block, mismatch), message=describe(mismatch))
        result.differing.append(Differing(block=block, got=got, mismatch=mismatch, problem=problem))
        result.problems.append(problem)
    if state.error is not None:
        error = state.error
        first = error.message.strip().splitlines()[0] if error.message.strip() else ""
        result.problems.append(Problem(path=lesson.path, line=error.line, message=f"{error.type}: {first}"))
    result.problems.sort(key=lambda p: p.line)
    return result


def run_and_compare(lesson: Lesson) -> list[Problem]:
    return run_lesson(lesson).problems


def _closing_fence(lines: list[str], opening: int) -> int:
    """0-based index of the line closing the fence opened at 0-based `opening`."""
    ticks = len(lines[opening].strip()) - len(lines[opening].strip().lstrip("`"))
    for i in range(opening + 1, len(lines)):
        stripped = lines[i].strip()
        if stripped and set(stripped) == {"`"} and len(stripped) >= ticks:
            return i
    return len(lines)


def update_blocks(path: Path, differing: list[Differing]) -> list[str]:
    """Rewrite each differing block's text with what its cell printed; every other
    line of the file stays as it was. Returns one description per block changed."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    notes = []
    for item in sorted(differing, key=lambda d: d.block.line, reverse=True):
        opening = item.block.line - 1
        closing = _closing_fence(lines, opening)
        old = lines[opening + 1: closing]
        new = item.got.rstrip("\n").split("\n") if item.got.strip() else []
        ticks = "```"
        while any(line.strip().startswith(ticks) for line in new):
            ticks += "`"  # printed text holding a fence would end the block early
        lines[opening] = lines[opening].replace("```", ticks, 1) if ticks != "```" else lines[opening]
        closing_line = lines[closing].replace("```", ticks, 1) if closing < len(lines) and ticks != "```" else None
        if closing_line is not None:
            lines[closing] = closing_line
        lines[opening + 1: closing] = new
        first = item.mismatch
        was = "nothing" if first.expected is None else repr(first.expected.strip())
        now = "nothing" if first.got is None else repr(first.got.strip())
        notes.append(f"output block at line {item.block.line} ({len(old)} → {len(new)} lines; "
                     f"first change at its line {first.index + 1}: {was} → {now})")
    path.write_text("\n".join(lines), encoding="utf-8")
    return list(reversed(notes))
