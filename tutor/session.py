"""LessonSession: one opened lesson's learner state, with no UI and no torch.

Why it exists: everything a learner does in a lesson that is not drawing — which
section is viewed, the runner and the commands sent to it, keys waiting for a step
in progress, the lr typed before torch loaded, predictions, edited cells, earlier
runs kept for the cost plot's overlay, progress and resuming where the learner left
off — lives here, so it can be driven and tested headless (toolong's LogFile next to
its LogLines widget). The lesson screen renders a session: it reads `runner.state`
and the session's attributes (attributes down) and calls its methods for keys
(messages up). Nothing here imports textual or torch.

The runner is opaque: the session only uses the Runner API of docs/architecture.md
and `.state`, and gets its runner from a factory (`make_runner(lesson, lr_override)`)
given by the app once torch is loaded, so a kernel client with the same methods can
take its place.

Notices for the learner are reported as facts (`notice(key, **values)`, the key
naming a translation in tutor/ui/i18n.py); the screen words and shows them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tutor.engine.lesson import Cell, Lesson
from tutor.engine.state import CostPoint, Landscape, RunState
from tutor.engine.until import Condition
from tutor.progress import Progress

MAX_PREVIOUS = 5  # earlier runs kept per lesson for the cost plot's overlay

RunnerFactory = Callable[[Lesson, "float | None"], Any]


# ---------------------------------------------------------------------- earlier runs


@dataclass(frozen=True)
class PreviousRun:
    """A finished or abandoned run of this lesson, kept to compare against."""

    lr_label: str
    costs: tuple[CostPoint, ...]
    landscape: Landscape | None = None  # its last loop's landscape (earlier paths, dimmer)


def lr_label(costs: tuple[CostPoint, ...], fallback: float | None = None) -> str:
    """`lr=0.01`, or `lr=0.01→0.1` when the learner changed it during the run."""
    lrs = [p.lr for p in costs if p.lr is not None]
    if not lrs:  # a lesson without an lr: no label rather than `lr=?`
        return "" if fallback is None else f"lr={fallback:g}"
    first, last = lrs[0], lrs[-1]
    return f"lr={first:g}" if first == last else f"lr={first:g}→{last:g}"


class RunArchive(Mapping):
    """Earlier runs per lesson id, newest first, at most MAX_PREVIOUS each.

    One per app, so a lesson re-opened in the same app session still shows its
    earlier curves; sessions add to it and clear it through these methods only."""

    def __init__(self) -> None:
        self._runs: dict[str, list[PreviousRun]] = {}

    def __getitem__(self, lesson_id: str) -> list[PreviousRun]:
        return self._runs[lesson_id]

    def __iter__(self):
        return iter(self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    def keep(self, lesson_id: str, state: RunState) -> None:
        """Remember a run's curve (nothing when it has no cost)."""
        if not state.costs:
            return
        runs = self._runs.setdefault(lesson_id, [])
        runs.insert(0, PreviousRun(lr_label(state.costs, state.lr), state.costs, state.landscape))
        del runs[MAX_PREVIOUS:]

    def keep_costs(self, lesson_id: str, costs: tuple[CostPoint, ...], landscape: Landscape | None = None) -> None:
        """Remember a curve that is not a whole run's state (a branch's origin; its
        landscape path is drawn beside the branch's, as earlier runs' are)."""
        if not costs:
            return
        runs = self._runs.setdefault(lesson_id, [])
        runs.insert(0, PreviousRun(lr_label(costs), costs, landscape))
        del runs[MAX_PREVIOUS:]

    def of(self, lesson_id: str) -> tuple[PreviousRun, ...]:
        return tuple(self._runs.get(lesson_id, ()))

    def clear(self, lesson_id: str) -> None:
        self._runs.pop(lesson_id, None)


# ---------------------------------------------------------------------- branches


@dataclass(frozen=True)
class Branch:
    """The current run is a what-if: the learner went back to `iteration` (after
    `step` recorded iterations) and changed the lr from `old_lr` to `new_lr` there, or
    edited cell `edited_cell`; the run it branched from is kept with the earlier runs.
    The plot labels the current curve with this (tutor/ui/steer_words.py)."""

    step: int
    iteration: int | None
    old_lr: float | None = None
    new_lr: float | None = None
    edited_cell: int | None = None


def branch_point(furthest: tuple[CostPoint, ...], state: RunState) -> int | None:
    """The step the current run would branch at when the learner changes something
    now: the number of iterations recorded so far, when the run has been further than
    this before (it went back); None at the front of the run (nothing to branch from)."""
    k = len(state.costs)
    if k < len(furthest) and furthest[:k] == state.costs:
        return k
    return None


# ---------------------------------------------------------------------- pure choices


def resume_before(lesson: Lesson, cell: int) -> int | None:
    """The last runnable cell before `cell` (None: nothing to run to get there)."""
    if not 0 < cell < len(lesson.cells):
        return None
    before = [c.index for c in lesson.runnable_cells if c.index < cell]
    return before[-1] if before else None


def runnable_in(lesson: Lesson, section: int) -> list[int]:
    """The runnable cells of a section, in order."""
    return [i for i in lesson.sections[section].cells if not lesson.cells[i].norun]


def position_cell(lesson: Lesson, state: RunState) -> int | None:
    """The cell the run is in: the one the next step runs (or runs now); at the end
    of a cell, the next runnable one; None when the lesson has no runnable cell."""
    runnable = [c.index for c in lesson.runnable_cells]
    if not runnable:
        return None
    if state.status == "idle" or state.cell is None:
        return runnable[0]
    if state.status == "paused" and state.cell in state.cells_done:
        later = [i for i in runnable if i > state.cell]
        return later[0] if later else state.cell
    return state.cell


def section_end(lesson: Lesson, section: int, state: RunState) -> int | None:
    """Where `space` pauses: the end of the viewed section's last runnable cell; when
    the run is already past it, the end of the section the run is in; None: the
    lesson's end (nothing to stop at before it)."""
    runnable = [c.index for c in lesson.runnable_cells]
    if not runnable:
        return None
    here = position_cell(lesson, state)
    cells = runnable_in(lesson, section)
    if not cells or (here is not None and state.cell is not None and state.cell in state.cells_done
                     and state.cell >= cells[-1]):
        if here is None:
            return None
        cells = runnable_in(lesson, lesson.cells[here].section)
    end = cells[-1]
    return None if end == runnable[-1] else end


def code_cells(lesson: Lesson, section: int, state: RunState) -> list[Cell]:
    """The cells the code pane shows: the viewed section's, or the runner's cell if none."""
    cells = [lesson.cells[i] for i in lesson.sections[section].cells]
    if cells:
        return cells
    if state.cell is not None and state.cell < len(lesson.cells):
        return [lesson.cells[state.cell]]
    return list(lesson.runnable_cells[:1])


def display_cell(lesson: Lesson, state: RunState) -> int | None:
    """The cell whose output is shown: the one running, else the last that ran."""
    if state.error is not None:
        return state.error.cell
    current = state.cell
    if current is not None and (current in state.outputs or current in state.cells_done
                                or state.status == "running" or state.iteration is not None):
        return current
    if state.cells_done:
        return state.cells_done[-1]
    if current is None:  # nothing ran yet: the first cell that will
        runnable = lesson.runnable_cells
        return runnable[0].index if runnable else None
    return current


def not_own_run(edits: Mapping[int, str], state: RunState, cell: int) -> tuple[str, dict] | None:
    """Why the cell's output cannot be compared with the lesson's expected text (design
    §9: only a run with the lesson's own lr and code is): an edited cell at or before
    it, or a learner's lr in force (an i18n key and its values); None: compare."""
    if any(index <= cell for index in edits):
        return ("output.not_own_code", {})
    if state.lr_override is not None:
        return ("output.not_own_lr", {"lr": f"{state.lr_override:g}"})
    return None


def cell_to_predict(lesson: Lesson, state: RunState) -> int | None:
    """The cell that runs next (or is running): what a prediction is about."""
    if state.cell is not None and state.cell not in state.cells_done:
        return state.cell
    done = set(state.cells_done)
    for cell in lesson.runnable_cells:
        if cell.index not in done and (state.cell is None or cell.index >= state.cell):
            return cell.index
    return None


def cell_to_edit(lesson: Lesson, section: int, state: RunState) -> int | None:
    """The runner's cell when it is in the section on screen, else the section's first."""
    cells = lesson.sections[section].cells
    if state.cell is not None and state.cell in cells:
        return state.cell
    if cells:
        return cells[0]
    runnable = lesson.runnable_cells
    return runnable[0].index if runnable else None


# ---------------------------------------------------------------------- the session


class LessonSession:
    """The learner's state in one opened lesson; see the module docstring."""

    # `n`, `s` and `b` pressed while the previous step is still executing are queued
    # (a few), not lost: the runner would merge them into the step in progress.
    MAX_QUEUED = 8
    STEP_TIMEOUT = 5.0  # after this, a command that produced no new state is forgotten

    def __init__(
        self,
        lesson: Lesson,
        progress: Progress,
        runs: RunArchive,
        notice: Callable[..., None] | None = None,
    ) -> None:
        self.lesson = lesson
        self.progress = progress
        self.runs = runs
        self.notice = notice or (lambda key, **values: None)
        self.runner: Any = None
        self.section = 0
        self.predictions: dict[int, str] = {}  # cell index -> what the learner predicted
        self.edits: dict[int, str] = {}  # cell index -> the learner's edited source
        self.reload_errors: list[str] = []  # --watch: the file's errors since its last save
        self.resuming = False  # the cells before the saved (or edited) cell run again
        self.heading_to: int | None = None  # the section a step in it is running to
        self.queued: list[str] = []  # n/s/b pressed while a step was executing
        self._make_runner: RunnerFactory | None = None
        self._pending_action: str | None = None  # a key pressed while torch loaded
        self._pending_lr: float | None = None  # an lr applied while torch loaded
        self._resume_cell = 0  # the saved position's cell: the cells before it run again
        self._followed_cell: int | None = None
        self._sent_from: RunState | None = None
        self._sent_at = 0.0
        self._free_running = False
        self._marked_finished = False
        self._left = False
        # for the teacher's view (tutor class), written to progress as they happen
        self._saved_section: int | None = None
        self._diverged_counted = False  # this run's non-finite cost is counted
        self._predictions_recorded: dict[int, str] = {}  # cell -> prediction compared
        self.branch: Branch | None = None  # the current run branched from a kept one
        self._furthest: tuple[CostPoint, ...] = ()  # the costs of the furthest state seen
        self._furthest_landscape: Landscape | None = None  # ... and its landscape (its path)
        self._pending_until: Condition | None = None

    # ------------------------------------------------------------------ lifecycle

    def restore_position(self) -> None:
        """Back at the section where the learner left off (the cells before the saved
        cell run again once the runner exists)."""
        position = self.progress.position(self.lesson.id)
        if position is not None and position["section"] < len(self.lesson.sections):
            self.section = position["section"]
            self._resume_cell = position["cell"]
            self.notice("lesson.resume", section=position["section"], cell=position["cell"] + 1)

    def attach(self, make_runner: RunnerFactory) -> None:
        """torch is loaded: make the runner, catch up with the saved position, then
        run the key pressed meanwhile. Once only; nothing after leave()."""
        if self.runner is not None or self._left:
            return
        self._make_runner = make_runner
        lr, self._pending_lr = self._pending_lr, None
        self.runner = make_runner(self.lesson, lr)
        if not self._catch_up(self._resume_cell):
            self._run_pending_action()

    def _catch_up(self, cell: int) -> bool:
        """Run the cells before `cell` (through the engine's own cell numbering), so
        the namespace, outputs and costs are as if the learner had run them; True
        when there is something to run."""
        before = resume_before(self.lesson, cell)
        if before is None:
            return False
        self.resuming = True
        self._resume_cell = cell
        self._followed_cell = before  # keep the viewed section: the arrival is in the cell before
        self.runner.goto_cell(cell)
        return True

    def _follow_section(self) -> bool:
        """Sections follow execution: a step asked for in a section other than the
        one the run is in first goes to the start of the viewed section's first
        runnable cell — forward by running the cells before it (fast, status
        "running to §k"), backward by a replay — and stops there. True when it did."""
        lesson = self.lesson
        state = self.runner.state
        if state.status == "running":
            return False
        # A key typed right after a step (in one burst) may come before the screen has
        # shown the state that step produced: the view follows that state first, so
        # the section it entered is not taken for one the learner went back to.
        self._follow_running(state)
        cells = runnable_in(lesson, self.section)
        if not cells:
            return False  # prose only: the step runs the next cell, the view follows it
        here = position_cell(lesson, state)
        if here is None or here in cells or (state.cell in cells and state.status != "idle"):
            return False
        first = cells[0]
        self.heading_to = self.section
        self.queued.clear()
        self._free_running = False
        self._sent_from = None
        before = resume_before(lesson, first)
        self._followed_cell = before
        self.runner.goto_cell(first)
        self.resuming = self.runner.state.status == "running"
        if not self.resuming:
            self.heading_to = None
        return True

    def tick(self) -> RunState | None:
        """Called by the screen's refresh timer: end a catch-up that arrived, send a
        queued step; return the runner's current state (None while torch loads)."""
        runner = self.runner
        if runner is None:
            return None
        state = runner.state
        if self.resuming and state.status != "running":
            self.resuming = False
            if self.heading_to is not None:
                self.heading_to = None  # arrived: the status line says paused
            elif state.status in ("paused", "done"):
                self.notice("lesson.resumed", n=self._resume_cell + 1)  # counted from 1
            self._run_pending_action()
        self._drain_queue()
        return runner.state

    def _follow_running(self, state: RunState) -> None:
        """The viewed section moves to the cell the run went into (once per cell: a
        section the learner chose since stays)."""
        if state.cell is not None and state.cell != self._followed_cell:
            self._followed_cell = state.cell
            if state.cell < len(self.lesson.cells):
                self.section = self.lesson.cells[state.cell].section

    def observe(self, state: RunState) -> None:
        """The screen shows `state`: the viewed section follows the running cell, and
        a finished lesson is marked once (and its position saved)."""
        lesson = self.lesson
        if len(state.costs) >= len(self._furthest):
            self._furthest, self._furthest_landscape = state.costs, state.landscape
        self._follow_running(state)
        if state.finished and not self._marked_finished:
            self._marked_finished = True
            self.progress.mark_finished(lesson.id)
            self._save_position(state)
        self._record_for_teacher(state)

    def _record_for_teacher(self, state: RunState) -> None:
        """Save what `tutor class` shows, when it happens: the section the learner
        moved to, a run that diverged (paused by the divergence check, or whose cost became
        non-finite; once per run), and how close a
        prediction was once its cell has run (once per prediction)."""
        changed = False
        if self.runner is not None and not self.resuming and self.section != self._saved_section:
            self._saved_section = self.section
            cell = state.cell if state.cell is not None else 0
            self.progress.set_position(self.lesson.id, self.section, cell)
            changed = True
        diverged = state.divergence is not None or (state.cost is not None and not math.isfinite(state.cost))
        if diverged and not self._diverged_counted:
            self._diverged_counted = True
            self.progress.add_divergence(self.lesson.id)
            changed = True
        for index, text in self.predictions.items():
            output = state.outputs.get(index)
            if (index in state.cells_done and output is not None
                    and self._predictions_recorded.get(index) != text):
                from tutor.engine.prediction import closeness

                self._predictions_recorded[index] = text
                matched, lines = closeness(text, output)
                self.progress.set_prediction(self.lesson.id, index, matched, lines)
                changed = True
        if changed:
            self.progress.save()

    def status(self, state: RunState) -> str:
        """The state word for the status line ("running_to": to §heading_to)."""
        if self.reload_errors:
            return "error"
        if self.runner is None:
            return "loading"
        if self.heading_to is not None and self.resuming:
            return "running_to"
        if self.resuming:
            return "running"
        return state.status

    def previous_runs(self) -> tuple[PreviousRun, ...]:
        return self.runs.of(self.lesson.id)

    def cell_sections(self) -> tuple[int, ...]:
        """Each lesson cell's section index (cells are numbered as CostPoint.cell is):
        the cost plot labels every training loop with its section."""
        return tuple(cell.section for cell in self.lesson.cells)

    # ------------------------------------------------------------------ commands

    def _engine(self, action: str | None = None):
        """The runner, or None while torch loads or a catch-up runs; then `action`
        runs once it is ready. None too while the lesson file has errors (--watch):
        nothing runs old code."""
        if self.reload_errors:
            self.notice("lesson.fix_file")
            return None
        if self.resuming:  # wait for the catch-up: its arrival is where the step starts
            if self.heading_to is not None:
                self.notice("lesson.heading", n=self.heading_to)
            else:
                self.notice("lesson.resuming")
            if action is not None:
                self._pending_action = action
            return None
        if self.runner is None:
            self.notice("lesson.engine_busy")
            if action is not None:
                self._pending_action = action
        return self.runner

    def _run_pending_action(self) -> None:
        action, self._pending_action = self._pending_action, None
        if action is not None:
            getattr(self, action)()

    def next(self) -> None:
        self._step_command("next")

    def step(self) -> None:
        self._step_command("step")

    def _step_command(self, kind: str) -> None:
        if self._engine(kind) is None or self._follow_section():
            return
        runner = self.runner
        if self._free_running and runner.state.status == "running":
            # A learner who presses n or s while the code runs freely wants to go
            # step by step from here: pause, then take that one step.
            runner.pause()
            self._free_running = False
            self._sent_from = runner.state
            self._sent_at = time.monotonic()
            self.queued = [kind]
            return
        if self._busy():
            if not self._free_running and len(self.queued) < self.MAX_QUEUED:
                self.queued.append(kind)
            return
        self._issue(kind)

    def _issue(self, kind: str) -> None:
        self._free_running = False
        if kind == "step_back":
            self._step_back_now()
            return
        self._sent(self.runner.state)
        getattr(self.runner, kind)()

    def _busy(self) -> bool:
        state = self.runner.state
        if state.status in ("done", "error"):
            return False
        if state.status == "running":
            return True
        # The command has not produced a state yet: the same point, in the same status
        # (set_lr while paused replaces the state with the same point: not an answer).
        sent = self._sent_from
        waiting = sent is not None and (state is sent or (
            state.pause_index == sent.pause_index and state.status == sent.status))
        return waiting and time.monotonic() - self._sent_at < self.STEP_TIMEOUT

    def _drain_queue(self) -> None:
        if self.queued and self.runner is not None and not self.resuming and not self._busy():
            self._issue(self.queued.pop(0))

    def run(self) -> None:
        """`space`: run freely to the end of the viewed section (pausing there), or
        pause a free run. At the end of the section already: the next one."""
        if (runner := self._engine("run")) is None:
            return
        self.queued.clear()
        if runner.state.status == "running":
            runner.pause()
            self._free_running = False
            return
        if self._follow_section():
            return
        self._free_running = True
        end = section_end(self.lesson, self.section, runner.state)
        if end is None:
            runner.run()
        else:
            runner.run_to_cell_end(end)

    def run_all(self) -> None:
        """`R`: run freely to the end of the lesson (or pause a free run)."""
        if (runner := self._engine("run_all")) is None:
            return
        self.queued.clear()
        if runner.state.status == "running":
            runner.pause()
            self._free_running = False
            return
        self._free_running = True
        runner.run()

    def step_back(self) -> None:
        """Back one step (the previous iteration after n, the previous statement after
        s). Typed while a step is still executing (`n n b`, `b b b` faster than the
        answers), it is queued after it like `n` and `s`: every key counts, in order."""
        if (runner := self._engine()) is None:
            return
        if not self._free_running and self._busy():
            if len(self.queued) < self.MAX_QUEUED:
                self.queued.append("step_back")
            return
        self.queued.clear()
        self._free_running = False
        self._step_back_now()

    def _step_back_now(self) -> None:
        runner = self.runner
        state = runner.state
        if state.divergence is not None and state.status == "paused":
            self._sent(state)
            runner.goto(state.divergence.back_point)  # back to where the growth began
            return
        if not runner.can_step_back():
            self.notice("lesson.nothing_back")
            return
        self._sent(state)
        runner.step_back()

    def _sent(self, state: RunState) -> None:
        """A command that moves the run was sent from `state` (see _busy)."""
        self._sent_from = state
        self._sent_at = time.monotonic()

    def run_until(self, condition: Condition) -> None:
        """Run until a condition, or jump (`500`, `@500`; engine/until.py, already
        parsed by the field): see Runner.run_until."""
        if self.runner is None or self.resuming:
            self._pending_until = condition
        if self._engine("_run_pending_until") is None:
            return
        self.queued.clear()
        self._free_running = True
        self.runner.run_until(condition)

    def _run_pending_until(self) -> None:
        condition, self._pending_until = self._pending_until, None
        if condition is not None:
            self.run_until(condition)

    def reset(self) -> None:
        """`r`: start over, also while a catch-up or a run to a section is under way
        (a cell on the way may never return: `r` is the way out)."""
        if self.resuming:
            self.resuming = False
            self.heading_to = None
            self._pending_action = None
        if (runner := self._engine()) is None:
            return
        self.runs.keep(self.lesson.id, runner.state)
        self._marked_finished = False
        self._diverged_counted = False
        self.queued.clear()
        self._free_running = False
        self._sent_from = None
        self.branch, self._furthest = None, ()
        runner.reset()

    def set_lr(self, lr: float) -> None:
        """The learner's learning rate (already validated), remembered in progress."""
        self.progress.add_lr(self.lesson.id, lr)
        if self.runner is not None:
            self._branch_on_lr(lr)
            self.runner.set_lr(lr)
        else:
            self._pending_lr = lr

    def _branch_on_lr(self, lr: float) -> None:
        """An lr change after going back makes a branch: the run as it went before
        (its furthest costs) is kept with the earlier runs, to compare."""
        state = self.runner.state
        k = branch_point(self._furthest, state)
        old = state.lr if state.lr is not None else state.lr_override
        if k is None or old == lr:
            return
        self.runs.keep_costs(self.lesson.id, self._furthest, self._furthest_landscape)
        iteration = state.iteration if state.iteration is not None else k
        self.branch = Branch(step=k, iteration=iteration, old_lr=old, new_lr=lr)
        self._furthest = state.costs

    def go_section(self, delta: int) -> bool:
        """View the previous/next section; False at either end."""
        target = self.section + delta
        if not 0 <= target < len(self.lesson.sections):
            return False
        self.section = target
        return True

    def clear_runs(self) -> None:
        self.runs.clear(self.lesson.id)
        self.branch = None
        self.notice("lesson.runs_cleared")

    def predict(self, index: int, text: str) -> None:
        self.predictions[index] = text

    def run_edited(self, index: int, source: str) -> bool:
        """Swap in the learner's version of a cell and start the lesson over with it
        (a new runner: the old one ran the old code). The lr override is kept. The
        cells before the edited one run again at once, so the learner is at the
        start of their cell: `n` runs it. False when the edit no longer applies."""
        from tutor.engine.edit import replace_cell_source

        if index >= len(self.lesson.cells) or self.reload_errors:
            return False  # --watch reloaded the file while the cell was being edited
        self.edits[index] = source
        self.lesson = replace_cell_source(self.lesson, index, source)
        old = self.runner
        if old is None:
            return True  # torch still loading: the runner will be made from the new lesson
        self._replace_runner(old)
        self.branch = Branch(step=0, iteration=None, edited_cell=index)
        self._catch_up(index)
        return True

    def _replace_runner(self, old) -> None:
        self.runs.keep(self.lesson.id, old.state)
        lr_override = old.lr_override  # as last set: its state may not show it yet
        old.close()
        self.runner = self._make_runner(self.lesson, lr_override)
        self._marked_finished = False
        self._diverged_counted = False
        self._followed_cell = None
        self.queued.clear()
        self._free_running = False
        self._sent_from = None  # a step sent to the old runner is no answer awaited from this one
        self.resuming = False
        self.branch, self._furthest = None, ()

    # ------------------------------------------------------------------ live reload

    def show_reload_errors(self, errors: list[str]) -> None:
        """--watch: the file has errors; the old code stops where it is, and nothing
        runs until a good save replaces it."""
        if self.runner is not None and not self.reload_errors:
            self.runner.pause()
        self.reload_errors = errors

    def load_lesson(self, lesson: Lesson) -> None:
        """A new version of the lesson: same section (clamped), a new runner (the old
        one ran the old code) that keeps the learner's lr, the old run's curve kept
        for comparison. Edits and predictions belonged to the old cells."""
        self.lesson = lesson
        self.reload_errors = []
        self.resuming = False  # a catch-up under way was for the old runner
        self.section = min(self.section, len(lesson.sections) - 1)
        self.edits.clear()
        self.predictions.clear()
        self._predictions_recorded.clear()
        self.queued.clear()
        self._free_running = False
        self._marked_finished = False
        self._followed_cell = None
        if self.runner is not None:
            self._replace_runner(self.runner)

    # ------------------------------------------------------------------ leaving

    def _save_position(self, state: RunState | None) -> None:
        cell = 0
        if state is not None and state.cell is not None:
            cell = state.cell
        self.progress.set_position(self.lesson.id, self.section, cell)
        self.progress.save()

    def leave(self, shown: RunState | None = None) -> None:
        """Save where the learner is, keep the curve, stop the lesson code. Idempotent."""
        if self._left:
            return
        self._left = True
        state = self.runner.state if self.runner is not None else shown
        if state is not None:
            self.runs.keep(self.lesson.id, state)
        self._save_position(state)
        if self.runner is not None:
            self.runner.close()
