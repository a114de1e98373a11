"""`tutor check`: every problem of a set of lesson files, without running any code.

Errors (exit 1) are what the loader finds (front matter, fences, blocks, output
blocks, encoding), Python syntax errors in runnable cells, and ids used by more
than one file of the checked set. Warnings (exit 0 when alone) point at lessons that
load but will not teach well: prose in one language only, a training loop whose cost
is never plotted, a learning-rate field that cannot change anything. The code is
only parsed with `ast`, never executed. Every rule is listed in docs/lesson-format.md.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tutor.engine import loader
from tutor.engine.edit import check_source
from tutor.engine.instrument import cell_loops
from tutor.engine.lesson import Cell, Lesson

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding, located in a lesson file (`line` None: the file as a whole)."""

    path: Path
    line: int | None
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else f"{self.path}"
        label = "warning: " if self.severity == WARNING else ""
        return f"{where}: {label}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def _from_error(exc: loader.LessonError, severity: str = ERROR) -> Problem:
    return Problem(exc.path, exc.line, exc.message, severity)


def check_file(path: Path | str) -> tuple[Lesson | None, list[Problem]]:
    """The lesson and the problems of one file, sorted by line. The lesson is
    returned only when the file has no error (so a caller can go on to run it)."""
    _, lesson, problems = _check(Path(path))
    return lesson, problems


def check_files(paths: Iterable[Path | str]) -> tuple[list[Lesson], list[Problem]]:
    """Check several files as one set: per-file problems, plus every id used by more
    than one of them (reported at the `id:` line of each file after the first).
    Returns the lessons without errors, and all problems in file order."""
    lessons: list[Lesson] = []
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    for path in map(Path, paths):
        analysis, lesson, found = _check(path)
        lesson_id = analysis.lesson.id if analysis.lesson is not None else ""
        if lesson_id in seen:
            found.append(Problem(path, analysis.id_line,
                                 f"duplicate id {lesson_id!r} (also in {seen[lesson_id]})"))
            found.sort(key=_order)
            lesson = None
        elif lesson_id:
            seen[lesson_id] = path
        problems += found
        if lesson is not None:
            lessons.append(lesson)
    return lessons, problems


def _order(problem: Problem) -> tuple[int, bool]:
    return (problem.line or 0, not problem.is_error)


def _check(path: Path) -> tuple[loader.Analysis, Lesson | None, list[Problem]]:
    analysis = loader.analyse(path)
    problems = [_from_error(e) for e in analysis.errors]
    problems += [_from_error(w, WARNING) for w in analysis.warnings]
    lesson = analysis.lesson
    if lesson is not None:
        problems += _syntax_errors(lesson)
        problems += _warnings(analysis, lesson)
    problems.sort(key=_order)
    ok = lesson is not None and not any(p.is_error for p in problems)
    return analysis, (lesson if ok else None), problems


# --- errors beyond the loader's -------------------------------------------------------


def _syntax_errors(lesson: Lesson) -> list[Problem]:
    """A syntax error in a runnable cell, at its line in the lesson file. `norun`
    cells may show broken code on purpose."""
    problems = []
    for cell in lesson.runnable_cells:
        found = check_source(cell.source, cell.line, str(lesson.path))
        if found is not None:
            line, message = found
            problems.append(Problem(lesson.path, line, f"Python syntax error: {message}"))
    return problems


# --- warnings ---------------------------------------------------------------------------


def _warnings(analysis: loader.Analysis, lesson: Lesson) -> list[Problem]:
    path = lesson.path
    found: list[Problem] = []

    def warn(line: int | None, message: str) -> None:
        found.append(Problem(path, line, message, WARNING))

    # Prose in one language only, per section.
    names = {"en": "English", "ko": "Korean"}
    # Not when the block structure is broken: an unclosed `::: en` swallowing the
    # `::: ko` after it, or `::: kr`, is the error, and "no '::: ko' block" would
    # only repeat it at another line.
    sections = () if analysis.blocks_broken else lesson.sections
    for section in sections:
        blocks = [b for b in analysis.lang_blocks if b.section == section.index and b.has_text]
        langs = {b.lang for b in blocks}
        if len(langs) == 1:
            (only,) = langs
            other = "ko" if only == "en" else "en"
            first = min(b.line for b in blocks)
            warn(first, f"section {section.title.en!r} has {names[only]} prose "
                        f"but no '::: {other}' block")
    # Hints in one language only (a bilingual hint missing one of its blocks).
    for line, hint in zip(analysis.hint_lines if not analysis.blocks_broken else [], [h for s in lesson.sections for h in s.hints]):
        if bool(hint.en) != bool(hint.ko):
            missing = "ko" if not hint.ko else "en"
            warn(line, f"hint has no '::: {missing}' text")
    for line in analysis.norun_outputs:
        warn(line, "output block after a norun cell: it is never shown or compared")

    found += _code_warnings(lesson)
    return found


def _code_warnings(lesson: Lesson) -> list[Problem]:
    """Training loops whose cost is never plotted, and learning-rate fields with no
    effect (design §2: the override replaces assignments to the lr variable and the lr
    of torch.optim optimizers)."""
    trees: list[tuple[Cell, ast.Module]] = []
    for cell in lesson.runnable_cells:
        try:
            trees.append((cell, ast.parse(cell.source)))
        except (SyntaxError, ValueError):
            continue  # reported as an error already
    loops = [(cell, node) for cell, tree in trees for node in cell_loops(tree) if _trains(node)]
    if not loops:
        return []
    assigned = set().union(*(_assigned_names(tree) for _, tree in trees))
    first_cell, first_loop = loops[0]
    line = first_cell.line + first_loop.lineno - 1
    problems = []
    if lesson.cost_name is not None:
        if lesson.cost_name not in assigned:
            problems.append(Problem(
                lesson.path, line,
                f"training loop, but the cost variable {lesson.cost_name!r} (front matter "
                "'cost') is never assigned: the cost plot stays empty", WARNING))
    elif "cost" not in assigned and "loss" not in assigned:
        problems.append(Problem(
            lesson.path, line,
            "training loop, but neither 'cost' nor 'loss' is ever assigned: the cost plot "
            "stays empty (name the variable with front matter 'cost: NAME')", WARNING))
    if lesson.lr_name not in assigned and not _builds_optimizer([tree for _, tree in trees]):
        problems.append(Problem(
            lesson.path, line,
            f"training loop, but no assignment to {lesson.lr_name!r} and no torch.optim "
            "optimizer: the learner's learning rate will have no effect", WARNING))
    return problems


def _trains(loop: ast.AST) -> bool:
    """The loop's body calls `.backward()` or `.step()`."""
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("backward", "step")
        for stmt in loop.body for node in ast.walk(stmt)
    )


def _assigned_names(tree: ast.AST) -> set[str]:
    """Every name bound anywhere in the code (assignments, augmented and annotated
    assignments, loop and with targets, walrus, imports)."""
    names = {node.id for node in ast.walk(tree)
             if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _builds_optimizer(trees: list[ast.Module]) -> bool:
    """A call like `optim.SGD(...)`, `torch.optim.Adam(...)`, or of a name imported
    from torch.optim (`from torch.optim import SGD` in any cell, `SGD(...)` in any)."""
    imported = {"optim"}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("torch.optim"):
                imported |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                imported |= {a.asname for a in node.names
                             if a.asname and a.name.startswith("torch.optim")}
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id in imported:
                return True
            if isinstance(func, ast.Attribute):
                chain = func.value
                while isinstance(chain, ast.Attribute):
                    if chain.attr == "optim":
                        return True
                    chain = chain.value
                if isinstance(chain, ast.Name) and chain.id in imported:
                    return True
    return False
