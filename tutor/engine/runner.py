"""The execution engine: runs a lesson's cells step by step in a worker thread.

One `Runner` per opened lesson. Its commands (`next`, `step`, `run`, `pause`,
`reset`, `set_lr`, `goto`, `close`) are thread-safe and return at once; one worker
thread executes the lesson code, rewritten by `instrument.py` so that it calls back
into the runner at every *pause point*. There the worker checks the cancel flag,
applies the learner's learning rate, records iterations, and either continues or
publishes a `RunState` and waits for the next command. The UI only ever reads
`runner.state`, an immutable object replaced in one assignment, so it never locks.

Pause points are numbered in the order they are reached (0, 1, 2, ...): statement
points, iteration points, and the end of every runnable cell but the last one.
Runs are deterministic (torch, `random` and numpy are seeded before the first cell), so
`goto(k)` reaches point k again by replaying from a fresh namespace, publishing
nothing until it gets there. Because replay is exact, the runner also keeps the last
HISTORY_SIZE paused states: when k is among them, goto(k) shows it at once and the
replay catches up in the background, quietly (commands given meanwhile wait for
it). The learner's lr changes are recorded as a schedule of (pause point, lr) that
every replay follows, so going back across a change is exact and the states kept
before it stay valid (a change drops only those after it).

`state.pause_index` is the number of the point the worker waits at; in
`done`/`error` it is the number of points passed; in `idle` it is -1. Step back
goes to `back_target()`: the previous point after `step()`, the previous epoch (or
cell end) after `next()` or a free run. A free run keeps states in the history as it
goes (published ones, cell ends, a loop's last iterations), and `pause()` in a free
run lands TAIL_POINTS iterations later with each one kept, so the first step backs
after it are instant.

Each run lives in its own `_Run` object, so a worker that ignores cancellation
(stuck inside a long C call) can never write into the next run's state.
"""

from __future__ import annotations

import builtins
import ctypes
import io
import math
import os
import random
import sys
import threading
import time
import traceback
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable

from tutor.engine import divergence as dv
from tutor.engine import events as ev
from tutor.engine import lr as lr_rule
from tutor.engine import streams
from tutor.engine import workdir
from tutor.engine.instrument import (
    CHECK, ECHO, FITER, FLOOP, FLOOP_ABORT, FLOOP_END, FPAUSE, ITER, LOOP, LOOP_ABORT, LOOP_END, LR, PAUSE,
    UPDATE, UPDATED, InstrumentedCell, instrument,
)
from tutor.engine.lesson import Cell, Lesson
from tutor.engine.state import (
    BackwardGraph, CostPoint, Divergence, ErrorInfo, Frame, NonFiniteCost, RunState, UntilOutcome,
)
from tutor.engine.until import Condition, parse_until

MPL_BACKEND = "module://tutor.engine.mpl_backend"
PUBLISH_INTERVAL = 0.05  # seconds between publications while running freely (20 Hz: docs/decisions.md)
BACK_CHAIN = 32  # step back targets a kernel sends with a state (back_targets)
OUTPUT_CAP = 200_000  # characters of captured output kept per cell (the tail)
CANCEL_TIMEOUT = 1.0
# torch's intra-op threads while lesson code runs (process-wide; None: leave as is).
# Lesson tensors are tiny, and with 2 OpenMP threads a 1000-epoch loop ran 1.4-1.7x
# slower in a worker thread than in the main thread (measured, bench/overhead.py);
# with 1 thread it runs as fast as in the main thread, and a shared host running
# many learners' sessions is not kept busy by spinning OpenMP workers.
TORCH_THREADS = 1
HISTORY_SIZE = 512  # paused states kept for an instant step back
# ...as long as they hold about this many bytes (see _state_size: output characters and
# tensor views; the cost history is not repeated per state but shared, see _remember).
HISTORY_BUDGET = 8_000_000
# A pause during a free run lands this many iteration points later, each one's state
# kept in the history, so that many step backs are instant (the ~1 ms is not seen).
# The last TAIL_POINTS iterations of a `for` loop over a sized sequence are kept too.
TAIL_POINTS = 8
# Pause points where `next()` stops (iteration points and cell ends) are remembered,
# 8 bytes each, so step back can go to the previous epoch; the oldest half is dropped
# past this many (only a runaway `while True` loop gets there).
STOPS_LIMIT = 1_000_000
NO_TAIL = 1 << 62  # an iteration number no loop reaches
NOWHERE = 1 << 62  # a goto target no run reaches: a replay that shows nothing (checkpoints.py's filler)
NEVER = NO_TAIL  # a pause point no run reaches
_UNSET = object()
# A free run captures the autograd graph of at most one backward() per this many
# seconds (capturing costs about 0.1 ms per graph node: bench/graph.py).
GRAPH_INTERVAL = 0.25

# Run modes: where the worker stops next (TO_CELL: at the end of cell `target_cell`).
FREE, STMT, ITER_MODE, GOTO, TO_CELL = range(5)


_in_fork_child = False


def _forked() -> None:
    """A process forked from the lesson's (a DataLoader worker running a Dataset
    defined in the lesson): its pause points must not wait for commands nobody
    sends there."""
    global _in_fork_child
    _in_fork_child = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


class _Cancelled(BaseException):
    """Unwinds lesson code when the run is reset or closed (not an Exception, so
    lesson code's `except Exception` cannot swallow it)."""


class _Stopped(_Cancelled):
    """Headless run-until: the condition was met, the run ends here."""


class _Rewind(_Cancelled):
    """A free run diverged: a replay to the last finite iteration replaces it."""


def check_lr(value: float | None) -> float | None:
    """A learning-rate override must be a positive finite number (or None);
    engine/lr.py's rule (LrRefused is a ValueError)."""
    return None if value is None else lr_rule.check_lr(value)


class _Capture:
    """Captured output of one cell, capped to its last OUTPUT_CAP characters."""

    def __init__(self) -> None:
        self._chunks: list[str] = []
        self._size = 0
        self._text: str | None = None  # text() until the next write
        self.truncated = False

    def write(self, text: str) -> None:
        self._text = None
        self._chunks.append(text)
        self._size += len(text)
        if self._size > 2 * OUTPUT_CAP:  # trim now and then: amortised O(1) per write
            self._trim()

    def _trim(self) -> None:
        joined = "".join(self._chunks)
        if len(joined) > OUTPUT_CAP:
            joined = joined[-OUTPUT_CAP:]
            self.truncated = True
        self._chunks = [joined]
        self._size = len(joined)

    def text(self) -> str:
        if self._text is None:
            if self._size > OUTPUT_CAP:
                self._trim()
            joined = "".join(self._chunks)
            self._text = joined  # the fact is `truncated` (RunState.output_truncated); the UI words it
        return self._text


class _Run:
    """One execution of the lesson from a fresh namespace."""

    def __init__(self, runner: "Runner", mode: int, *, headless: bool = False, target: int = -1) -> None:
        self.runner = runner
        self.lesson = runner.lesson
        self.path = str(runner.lesson.path)
        self.headless = headless
        self.cv = threading.Condition()
        self.mode = mode
        self.target = target
        self.target_cell = -1  # TO_CELL: the cell whose end is the destination
        self.stop_cell: int | None = None  # FREE: pause at the end of this cell (a section's last)
        self.replaying = mode in (GOTO, TO_CELL)
        self.pending_mode: int | None = None  # a command given during a replay
        self.resume = False
        self.suspended = False
        self.cancel = False
        self.stop_soon = False  # stop at the next pause point (divergence)
        # pause() during a free run: iteration points still to pass, each one kept in
        # the history, before suspending at the last (0: no pause requested).
        self.tail = 0
        self.tail_from = NO_TAIL  # iterations of the current loop from here on are kept
        # The learner's lr as this run sees it: the schedule's value after the last
        # pause point passed (see Runner._lr_at). It changes only at a pause point's
        # end (lr_step), never between two, so a replay sees every change at exactly
        # the point where the original run saw it.
        self.override = runner._lr_at(-1)
        self.next_change = runner._next_change(-1)  # first point whose end may change it
        self.lr_pending: Any = _UNSET  # set_lr() while running: taken at the next point
        self.suspended_at = -1
        self.lr_active = self.override is not None
        # Run until (engine/until.py): the condition watched while running freely, the
        # loop it is bound to (its end stops the run), and the outcome once stopped.
        self.until: Condition | None = None
        self.until_loop: tuple[int, int] | None = None
        self.until_outcome: UntilOutcome | None = None
        # Divergence (engine/divergence.py): the fact shown, the replay that replaces
        # this run (target point, fact, iterations whose parameters to copy), the
        # copies such a replay collects.
        self.divergence: Divergence | None = None
        self.rewind: tuple[int, Divergence, tuple] | None = None
        self.measure: tuple[tuple[int, int], int, int] | None = None
        self.measured: list[dict[str, Any]] = []
        self.rewound = False
        # The current loop's iteration points (index: iteration) and costs (None where
        # none), and the last loop left (for `@k` after it): jumps back need no replay
        # to find their point.
        self.iter_points = array("q")
        self.loop_costs: list[float | None] = []
        self.last_loop: tuple[tuple[int, int] | None, array] = (None, array("q"))
        self.thread: threading.Thread | None = None
        self.emit_error: BaseException | None = None
        self.ended = False
        # goto() already showed the target's state from the history: arrive quietly.
        self.silent_arrival = False

        self.ns: dict[str, Any] = {}
        self.points = 0
        # > 0 while the engine itself runs lesson code (engine_code): the hooks of the
        # lesson's functions it calls then count, stop and record nothing.
        self.inert = 0
        self.status = "running"
        self.cell: int | None = None
        self.line: int | None = None
        self.loop_key: tuple[Any, int] | None = None  # (cell, n) or ("def", loop's line)
        # The frame of the lesson-defined function whose pause point was passed last
        # (None: the cell's own code): its locals come first (instrument.py).
        self.frame: Any = None
        self.iteration: int | None = None
        self.steps = 0
        self.costs: list[CostPoint] = []
        self._costs_cache: tuple[CostPoint, ...] = ()
        self.cost: float | None = None
        self.lr_changes: list[int] = []
        self.last_lr: float | None = None
        self.recorded = False
        self.outputs: dict[int, _Capture] = {}
        self.stderr: dict[int, _Capture] = {}  # what cells wrote to sys.stderr (streams.py)
        self.cells_done: list[int] = []
        self.error: ErrorInfo | None = None
        self.nonfinite: NonFiniteCost | None = None
        self.finished = False
        self.lesson_lr: float | None = None
        self.opt_original: dict[int, tuple[Any, list[float]]] = {}
        self.last_publish = 0.0
        self.iter_at = 0.0  # time.monotonic() at the last iteration point (shows_next_step)
        self._tensor_cls: type = object
        self._optimizer_cls: type = object
        self._lr_source: tuple[str, Any] | None = None  # (name, optimizer) lr_in_force found last
        # Parameter updates (optimizer steps, hand-written `W -= ...`), captured only
        # when someone will see them: not in a headless run without JSONL.
        self.capture_updates = not headless or runner._record_every_iteration
        self.recorder: Any = None  # updates.UpdateRecorder, made once torch is loaded
        self._extras: tuple[Any, tuple, tuple] | None = None  # (key, updates, optimizers)
        self.landscape: Any = None  # a LandscapeTracker (engine/landscape.py) when asked for
        self.graph: BackwardGraph | None = None  # the last backward() captured
        self.graph_at = 0.0  # when (time.monotonic()): captures are spaced in free runs
        self.backwards = 0  # backward() calls so far
        self.graph_point: int | None = None  # a resumed replay: the one backward() to capture

    # --- execution -------------------------------------------------------------

    def execute(self) -> None:
        import torch  # here, not at import time: the app draws before torch loads

        self._tensor_cls = torch.Tensor
        self._optimizer_cls = torch.optim.Optimizer
        threads = self.runner._torch_threads
        if threads and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        self.ns = self._namespace()
        workdir.enter(self, self.runner._workdir)
        self.use_our_matplotlib_backend()
        if self.capture_updates:
            from tutor.engine.updates import UpdateRecorder

            self.recorder = UpdateRecorder(self._where)
            self.recorder.install()  # removed when this run's lesson code ends
        try:
            self._execute()
        finally:
            if self.recorder is not None:
                self.recorder.remove()

    def _where(self) -> tuple[int | None, int | None, int | None]:
        return (self.cell, self.iteration, self.line)

    def _execute(self) -> None:
        import torch

        if self.runner._landscape:
            from tutor.engine.landscape import LandscapeTracker

            self.landscape = LandscapeTracker(self.lesson, quiet=self.engine_code)
        seed = self.lesson.seed
        torch.manual_seed(seed)
        random.seed(seed)
        numpy = sys.modules.get("numpy")  # torch loads it; lessons may draw from it too
        if numpy is not None:
            numpy.random.seed(seed)
        started = time.perf_counter()
        if not self.replaying:
            self.publish(snapshot=False)
        from tutor.engine.autograd_graph import intercept_backward

        with intercept_backward(self.backward_hook), streams.routed(self.write, self.write_stderr):
            if not self._run_cells():
                return
        self.finished = True
        self.status = "done"
        self.frame = None
        if self.until is not None and not self.replaying:
            last = self.costs[-1] if self.costs else None
            self.until_outcome = UntilOutcome(
                self.until.text, "end", last and last.cell, last and last.iteration, last and last.cost)
            self.until = None
        replayed, self.replaying = self.replaying, False  # a replay past the end: publish
        self.line = None
        self.publish(snapshot=True)
        if not replayed:
            self.emit(ev.Done(seconds=time.perf_counter() - started))

    def _run_cells(self) -> bool:
        """Every runnable cell in order; False when one failed (the error is shown)."""
        cells = self.lesson.runnable_cells
        for n, cell in enumerate(cells):
            self.cell, self.line = cell.index, cell.line
            self.loop_key = self.iteration = self.frame = None
            self.outputs.setdefault(cell.index, _Capture())
            self.emit(ev.CellStarted(cell=cell.index, line=cell.line))
            if self.runner.cell_hook is not None and not self.replaying:
                self.runner.cell_hook(cell.index, cell.line)
            try:
                exec(self.runner._compiled(cell).code, self.ns)
            except _Cancelled:
                raise
            except BaseException as exc:  # noqa: BLE001 - lesson code may raise anything (KeyboardInterrupt too)
                self.take_fd_output(force=True)
                self.fail(cell, exc)
                return False
            self.take_fd_output(force=True)  # a subprocess's output is this cell's
            self.cells_done.append(cell.index)
            self.show_open_figures()
            if n < len(cells) - 1:
                self.loop_key = self.iteration = self.frame = None
                self.cell_end_hook()
        return True

    # --- matplotlib figures (engine/figures.py, engine/mpl_backend.py) -----------

    def use_our_matplotlib_backend(self) -> None:
        """Lesson figures go to figure_hook: our backend is chosen before the lesson
        imports matplotlib (or switched to, when a run before imported it already);
        matplotlib itself is imported only by the lesson."""
        from tutor.engine import figures

        self.figures: dict[int, list[Any]] = {}
        self.figure_count = 0
        figures.sink = self.figure_hook
        if "matplotlib" not in sys.modules:
            os.environ["MPLBACKEND"] = MPL_BACKEND
            return
        try:
            import matplotlib

            if "matplotlib.pyplot" in sys.modules:
                import matplotlib.pyplot as plt

                plt.close("all")  # a reset does not show the last run's figures
                if matplotlib.get_backend() != MPL_BACKEND:
                    plt.switch_backend(MPL_BACKEND)
            else:
                matplotlib.use(MPL_BACKEND)
        except Exception:  # noqa: BLE001 - plotting must never stop a lesson
            pass

    def figure_hook(self, figure: Any, number: int) -> None:
        from tutor.engine import figures

        if (self.runner._run is not self and not self.headless) or self.inert:
            return
        self.figure_count += 1
        view = figures.read_figure(figure, self.figure_count)
        cell = self.cell if self.cell is not None else -1
        self.figures.setdefault(cell, []).append(view)
        self.emit(ev.FigureShown(cell=cell, figure=view))

    def show_open_figures(self) -> None:
        """A cell's figures still open at its end are shown, as Jupyter does."""
        backend = sys.modules.get("tutor.engine.mpl_backend")
        if backend is None:
            return
        try:
            backend.show_open_figures()
        except _Cancelled:
            raise
        except BaseException:  # noqa: BLE001 - a figure that cannot be read is not shown
            pass

    def _namespace(self) -> dict[str, Any]:
        own_builtins = dict(builtins.__dict__)
        own_builtins["print"] = self._print
        own_builtins["input"] = _no_input
        own_builtins["display"] = self.display
        own_builtins["clear_output"] = self.clear_output
        return {
            "__name__": "__main__",
            "__builtins__": own_builtins,
            PAUSE: self.pause_hook,
            ITER: self.iter_hook,
            LOOP: self.loop_hook,
            LOOP_END: self.loop_end_hook,
            LOOP_ABORT: self.loop_abort_hook,
            CHECK: self.check_hook,
            LR: self.lr_hook,
            ECHO: self.echo_hook,
            FPAUSE: self.fpause_hook,
            FITER: self.fiter_hook,
            FLOOP: self.floop_hook,
            FLOOP_END: self.floop_end_hook,
            FLOOP_ABORT: self.floop_abort_hook,
            UPDATE: self.update_hook,
            UPDATED: self.updated_hook,
        }

    def fail(self, cell: Cell, exc: BaseException) -> None:
        line = None
        if isinstance(exc, SyntaxError) and exc.filename == self.path and exc.lineno:
            line = exc.lineno
            message = exc.msg
        else:
            message = str(exc)
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename == self.path:
                line = lineno
        if line is None:
            line = self.line or cell.line
        tb = exc.__traceback__  # from the first lesson frame on: the engine's own are noise
        while tb is not None and tb.tb_frame.f_code.co_filename != self.path:
            tb = tb.tb_next
        self.error = ErrorInfo(
            cell=cell.index,
            line=line,
            type=type(exc).__name__,
            message=message,
            traceback="".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__)),
        )
        self.status = "error"
        self.line = line
        replayed, self.replaying = self.replaying, False  # a replay that ends in the error: publish
        self.publish(snapshot=True)
        if not replayed:
            self.emit(ev.Error(cell=cell.index, line=line, type=self.error.type, message=message))

    def failed_outside_lesson_code(self, exc: BaseException) -> None:
        """Something raised past the cells' own handler (the engine between two
        cells, a hook): an error state at the cell the run is in, so the screen says
        so and `r` recovers, instead of a worker gone with the state left `running`."""
        try:
            cells = self.lesson.cells
            cell = cells[self.cell] if self.cell is not None and self.cell < len(cells) else self.lesson.runnable_cells[0]
            self.fail(cell, exc)
        except BaseException:  # noqa: BLE001 - publishing failed too: the state stays as it was
            pass

    def write(self, text: str) -> None:
        if not text or self.cell is None or self.inert:  # inert: the engine ran it, not the lesson
            return
        self.take_fd_output(force=True)  # written before this print: shown before it
        self._stdout(text)

    def write_stderr(self, text: str) -> None:
        if not text or self.cell is None or self.inert:
            return
        self.take_fd_output(force=True)
        self._stderr(text)

    def take_fd_output(self, force: bool = False) -> None:
        """What lesson code wrote to fds 1 and 2 meanwhile (a subprocess, a C library)
        joins the cell's output and stderr, as print() and sys.stderr do."""
        take = self.runner.fd_output
        if take is None or self.cell is None:
            return
        out, err = take(force)
        if out and not self.inert:
            self._stdout(out)
        if err and not self.inert:
            self._stderr(err)

    def _stdout(self, text: str) -> None:
        self.outputs[self.cell].write(text)
        self.emit(ev.Output(cell=self.cell, text=text))

    def _stderr(self, text: str) -> None:
        capture = self.stderr.get(self.cell)
        if capture is None:
            capture = self.stderr[self.cell] = _Capture()
        capture.write(text)
        self.emit(ev.Output(cell=self.cell, text=text, stream="stderr"))

    def emit(self, event: ev.Event) -> None:
        handler = self.runner._on_event
        if handler is None or self.replaying or self.runner._run is not self:
            return
        try:
            with streams.unrouted():  # what the handler prints is not the lesson's output
                handler(event)
        except Exception as exc:  # the consumer failed (e.g. a closed pipe): stop the run
            self.emit_error = exc
            raise _Cancelled() from exc

    @contextmanager
    def engine_code(self) -> Iterator[None]:
        """The engine calls lesson code for itself: a landscape evaluates the lesson's
        cost statements, which call its functions (`model(x)` runs a `forward` defined in
        a cell, rewritten like every lesson function). Inside, those functions' hooks do
        nothing: no pause point is counted (the run's numbering, which step back, goto
        and checkpoints rely on, must not depend on when a landscape was computed), no
        stop, no iteration recorded, no publication (which would compute the landscape
        again, inside itself), and what they print, warn or show is not the cell's
        output (a `print(x.shape)` in `forward` printed once more per landscape)."""
        self.inert += 1
        try:
            yield
        finally:
            self.inert -= 1

    # --- hooks called by the rewritten lesson code -------------------------------

    def _print(self, *args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False) -> None:
        if file is None or file is sys.stdout or file is sys.__stdout__:
            buf = io.StringIO()
            builtins.print(*args, sep=sep, end=end, file=buf)
            self.write(buf.getvalue())
        else:
            builtins.print(*args, sep=sep, end=end, file=file, flush=flush)

    def echo_hook(self, value: Any) -> None:
        if value is not None:
            self.write(repr(value) + "\n")

    def display(self, *objects: Any, **_options: Any) -> None:
        """Jupyter's `display()`, a builtin there (notebooks call it without an
        import): each object as its text form, one per line, as a cell's last
        expression is shown (options such as `clear=` are for rich front ends)."""
        for value in objects:
            self.echo_hook(value)

    def clear_output(self, wait: bool = False) -> None:
        """Jupyter's `clear_output()` (IPython.display): the cell's output so far is
        gone, what it prints next replaces it (a live progress line, a plot redrawn
        each epoch). `wait` (clear only when new output comes) looks the same here,
        where the screen shows the output as it stands 20 times a second. What the
        cell shows at its end is what the notebook saved, and is compared. `tutor run`
        has printed the text already: it stays on the terminal."""
        cell = self.cell
        if cell is None:
            return
        self.outputs[cell] = _Capture()
        self.stderr.pop(cell, None)
        figures = getattr(self, "figures", None)
        if figures:
            figures.pop(cell, None)

    def lr_hook(self, value: Any) -> Any:
        if self.inert:  # a function's `lr` parameter while the engine evaluates it
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.lesson_lr = float(value)
        override = self.override
        return value if override is None else override

    def update_hook(self, line: int, target: Any, operands: tuple) -> None:
        if self.recorder is not None:
            self.recorder.manual_before(line, target, operands)

    def updated_hook(self, line: int, target: Any, source: str, operator: str, names: tuple) -> None:
        if self.recorder is not None:
            self.recorder.manual_after(line, target, source, operator, names)

    def check_hook(self) -> None:
        if self.cancel:
            raise _Cancelled()

    def pause_hook(self, line: int, frame: Any = None) -> None:
        self.frame = frame
        p = self.points
        self.points = p + 1
        self.line = line
        if self.cancel:
            raise _Cancelled()
        if self.lr_active:
            self.apply_lr()
        mode = self.mode
        if mode == FREE:
            if self.headless:
                if self.stop_soon:
                    raise _Stopped()
            elif self.stop_soon or (self.tail and self.loop_key is None):
                self.suspend(p)  # a pause requested in a loop stops after it at the latest
            elif time.monotonic() - self.last_publish >= PUBLISH_INTERVAL:
                # kept only outside loops: inside one, the iteration's step may be
                # still to come or not copied (shows_next_step)
                self.publish(snapshot=True, index=p, keep=self.loop_key is None)
        elif mode == STMT:
            self.suspend(p)
        elif mode == GOTO:
            if p >= self.target:
                self.suspend(p)
        if p >= self.next_change:
            self.lr_step(p)

    def iter_hook(self, loop: int, line: int, frame: Any = None, key: Any = None) -> None:
        self.frame = frame
        if key is None:
            key = (self.cell, loop)
        if self.loop_key == key:
            self.record(self.iteration)
            self.iteration += 1
        else:
            self.loop_key = key
            self.iteration = 0
            self.iter_points = array("q")
            self.loop_costs = []
        if self.landscape is not None and frame is None:  # a cell's own loop (its plan reads the cell)
            self.landscape.at_iteration(self.ns, self.cell, loop)
        p = self.points
        self.points = p + 1
        self.line = line
        self.iter_points.append(p)
        if self.cancel:
            raise _Cancelled()
        if self.runner.point_hook is not None:
            self.runner.point_hook(self, p)
        if self.measure is not None:
            self.measure_point(key)
        if self.until is not None and not self.replaying:
            if self.until_loop is None:
                self.until_loop = key  # given outside a loop: bound to the next one entered
            if self.until.is_iteration:
                self.until_iteration(key)
        stops = self.runner._stops
        if not stops or p > stops[-1]:
            self.runner._note_stop(p, self.iteration)
        if self.lr_active:
            self.apply_lr()
        mode = self.mode
        if mode == FREE:
            if self.headless:
                if self.stop_soon:
                    raise _Stopped()
            elif self.stop_soon:
                self.suspend(p)
            elif self.tail:  # pause() was asked for: keep a few more epochs, then stop
                self.tail -= 1
                if self.tail:
                    self.keep(p)
                else:
                    self.suspend(p)
            elif self.iteration >= self.tail_from:  # one of the loop's last iterations
                self.keep(p)
            elif time.monotonic() - self.last_publish >= PUBLISH_INTERVAL:
                self.publish(snapshot=True, index=p, keep=self.fresh_updates())
        elif mode == GOTO:
            if p >= self.target:
                self.suspend(p)
        elif mode != TO_CELL:
            self.suspend(p)
        if p >= self.next_change:
            self.lr_step(p)
        if self.recorder is not None:
            self.recorder.armed = self.shows_next_step(p)

    def fresh_updates(self) -> bool:
        """Were this iteration's updates copied? Only then is a state published now
        kept in the history (a step back there shows it as stepping would)."""
        return self.recorder is None or self.recorder.armed

    def shows_next_step(self, p: int) -> bool:
        """Will a state someone sees show the parameter updates made in the iteration
        that starts at point p? Copying them costs about a third of a small training
        step, so a free run copies only those of the iterations just before a
        publication is due (and of a loop's last iterations, a requested pause, a run
        until a condition), a replay only those near its target; stepping copies all."""
        if self.replaying:
            if self.mode != GOTO:
                return True
            points = self.iter_points
            span = p - points[-2] if len(points) > 1 else 0
            return span <= 0 or self.target - p <= 2 * span
        if self.mode != FREE or self.headless:
            return True
        if self.tail or self.stop_soon or self.until is not None or self.iteration + 1 >= self.tail_from:
            return True
        now = time.monotonic()
        span, self.iter_at = now - self.iter_at, now
        return now + 2 * span >= self.last_publish + PUBLISH_INTERVAL

    def loop_hook(self, loop: int, iterable: Any) -> Any:
        """A top-level `for` loop starts: note which of its iterations are the last few."""
        self.tail_from = NO_TAIL
        if type(iterable) in (range, list, tuple):  # len() of these runs no lesson code
            self.tail_from = len(iterable) - TAIL_POINTS
        return iterable

    # --- the same inside functions defined in lesson cells ------------------------

    def fpause_hook(self, line: int) -> None:
        if _in_fork_child or self.inert:
            return
        self.pause_hook(line, sys._getframe(1))

    def fiter_hook(self, loop: int, line: int) -> None:
        """An iteration of a function's loop: the steppable loop unless another one
        runs already (then its iterations are statement points)."""
        if _in_fork_child or self.inert:
            return
        key = ("def", loop)
        current = self.loop_key
        if current is None or current == key:
            self.iter_hook(loop, line, sys._getframe(1), key)
        else:
            self.pause_hook(line, sys._getframe(1))

    def floop_hook(self, loop: int, iterable: Any) -> Any:
        if self.loop_key is None and not _in_fork_child and not self.inert:
            return self.loop_hook(loop, iterable)
        return iterable

    def floop_end_hook(self, loop: int) -> None:
        if _in_fork_child or self.inert or self.loop_key != ("def", loop):
            return
        if not self.cancel:
            self.frame = sys._getframe(1)
            self.record(self.iteration)
        self.loop_key = self.iteration = None
        self.tail_from = NO_TAIL
        if self.recorder is not None:
            self.recorder.armed = True

    def floop_abort_hook(self, loop: int) -> None:
        """The loop ends by an exception: no record of a half iteration."""
        if self.loop_key == ("def", loop) and not self.inert:
            self.loop_key = self.iteration = None
            self.tail_from = NO_TAIL
            if self.recorder is not None:
                self.recorder.armed = True

    def scope(self) -> dict[str, Any]:
        """The names lesson code sees where it is: the function's locals first, then
        the namespace (a local hides a global of the same name)."""
        frame = self.frame
        if frame is None:
            return self.ns
        try:
            local = frame.f_locals
        except Exception:  # a frame that is gone
            return self.ns
        merged = dict(local)
        for name, value in self.ns.items():
            if name not in merged:
                merged[name] = value
        return merged

    def take_snapshot(self, snapshotter: Any) -> tuple:
        local = self.frame_locals()
        return snapshotter.take(self.ns) if local is None else snapshotter.take(self.ns, local=local)

    def frame_locals(self) -> dict[str, Any] | None:
        frame = self.frame
        if frame is None:
            return None
        try:
            return frame.f_locals
        except Exception:
            return None

    def where(self) -> Frame | None:
        """The function the run is in and the cell line that called it (from the
        lesson's own frames only; library frames in between are skipped)."""
        frame = self.frame
        if frame is None:
            return None
        code = frame.f_code
        name = getattr(code, "co_qualname", code.co_name)
        call_line = None
        outer = frame.f_back
        while outer is not None:
            if outer.f_code.co_filename == self.path and outer.f_code.co_name == "<module>":
                call_line = outer.f_lineno
                break
            outer = outer.f_back
        return Frame(function=name, line=frame.f_lineno, call_cell=self.cell, call_line=call_line)

    def _set_local(self, name: str, value: Any) -> None:
        """Give the paused function's local `name` a new value (the lr override)."""
        frame = self.frame
        local = frame.f_locals
        local[name] = value
        if isinstance(local, dict):  # before Python 3.13: copy the dict back
            try:
                ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
            except AttributeError:
                pass

    def loop_end_hook(self, loop: int) -> None:
        if self.loop_key == (self.cell, loop):
            self.record(self.iteration)
            if self.landscape is not None:
                self.landscape.at_loop_end()
                if self.runner._on_event is not None and not self.replaying:
                    shown = self.landscape.current(force=True, full_path=True)
                    if shown is not None:
                        self.emit(ev.LandscapeEvent(cell=self.cell, iteration=self.iteration, landscape=shown))
            until = self.until
            if (until is not None and self.until_loop == self.loop_key and not self.headless
                    and not self.replaying and self.mode == FREE):
                last = self.loop_costs[-1] if self.loop_costs else None
                self.until_outcome = UntilOutcome(until.text, "loop_end", self.cell, self.iteration, last)
                self.until = None
                self.stop_soon = True
            self.last_loop = (self.loop_key, self.iter_points)
        self.loop_key = self.iteration = None
        self.tail_from = NO_TAIL
        if self.recorder is not None:
            self.recorder.armed = True  # steps outside loops are always copied

    def loop_abort_hook(self, loop: int) -> None:
        """A loop inside the cell's own `try`/`with`/`if` ends by an exception (the
        cell may catch it: `except KeyboardInterrupt:`): no record of a half iteration."""
        if self.loop_key == (self.cell, loop):
            self.loop_key = self.iteration = None
            self.tail_from = NO_TAIL
            if self.recorder is not None:
                self.recorder.armed = True

    def cell_end_hook(self) -> None:
        """The pause point at the end of a cell (between cells; no line)."""
        p = self.points
        self.points = p + 1
        self.line = None
        if self.recorder is not None:
            self.recorder.armed = True  # (a loop left by an exception the cell caught)
        if self.cancel:
            raise _Cancelled()
        if self.runner.point_hook is not None:
            self.runner.point_hook(self, p)
        stops = self.runner._stops
        if not stops or p > stops[-1]:
            self.runner._note_stop(p, -1)
        if self.lr_active:
            self.apply_lr()
        mode = self.mode
        if mode == FREE:
            if self.headless:
                if self.stop_soon:
                    raise _Stopped()
            elif self.stop_soon or self.tail or (self.stop_cell is not None and self.cell >= self.stop_cell):
                self.suspend(p)
            else:
                self.keep(p)  # once per cell: step back from "done" lands here at once
        elif mode == GOTO:
            if p >= self.target:
                self.suspend(p)
        elif mode == TO_CELL:
            if self.cell >= self.target_cell:
                self.suspend(p)
        else:
            self.suspend(p)
        if p >= self.next_change:
            self.lr_step(p)

    # --- backward() calls: the autograd graph ------------------------------------

    def backward_hook(self, roots: tuple, run: Callable[[], Any], frame: Any) -> Any:
        """Every backward() made by lesson code: run it, capturing its graph when
        someone will see it (wants_graph); `run` is the real call, made once."""
        if self.cancel:
            raise _Cancelled()
        if self.inert:
            return run()
        while frame is not None and frame.f_code.co_filename != self.path:
            frame = frame.f_back
        if frame is None:  # the engine's own autograd work (a landscape), not the lesson's
            return run()
        self.backwards += 1
        point = self.points
        points = self.runner._backward_points
        if not points or point > points[-1]:
            points.append(point)
            if len(points) > STOPS_LIMIT:
                del points[: len(points) // 2]
                self.runner._backward_floor = points[0]  # what was before is forgotten
        if not self.wants_graph(point):
            return run()
        from tutor.engine.autograd_graph import capture, lesson_names

        line = frame.f_lineno
        frame_locals = frame.f_locals if frame.f_code.co_name != "<module>" else None
        names, owners, types = lesson_names(self.ns, frame_locals)
        graph, result = capture(
            roots, run, names=names, owners=owners, module_types=types,
            where=(self.cell, line, self.iteration), number=self.backwards,
        )
        if graph is not None:
            self.graph = graph
            self.graph_at = time.monotonic()
            if self.runner._graph_events:
                self.emit(ev.Backward(cell=self.cell, line=line, graph=graph))
        return result

    def graph_preview(self) -> BackwardGraph | None:
        """The graph of the tensor whose backward() the line about to run calls;
        before the first backward() is captured, the graph of the tensor open in the
        inspector, else of the cost (walk only)."""
        from tutor.engine.backward_steps import backward_receiver, line_text

        root = None
        scope = self.scope()  # a function's locals first when paused inside one
        receiver = backward_receiver(line_text(self.lesson, self.cell, self.line))
        if receiver is not None:
            head, *rest = receiver.split(".")
            root = scope.get(head)
            try:
                for attr in rest:  # attribute reads of lesson objects (a property may raise)
                    root = getattr(root, attr, None)
            except Exception:
                root = None
        if not isinstance(root, self._tensor_cls) and self.graph is None:
            # no backward() yet: the tensor open in the inspector, else the cost
            inspected = self.runner._inspect
            root = scope.get(inspected) if inspected else None
            if not isinstance(root, self._tensor_cls) or root.grad_fn is None:
                name = self.lesson.cost_name or ("cost" if "cost" in scope else "loss")
                root = scope.get(name)
        if not isinstance(root, self._tensor_cls) or root.grad_fn is None:
            return None
        from tutor.engine.autograd_graph import lesson_names, preview

        names, owners, types = lesson_names(self.ns, scope)
        return preview(root, names=names, owners=owners, module_types=types,
                       where=(self.cell, self.line, self.iteration))

    def wants_graph(self, point: int) -> bool:
        """Capture this backward()? Capturing costs about 0.1 ms per graph node,
        several small training steps, so a free run captures at most one every
        GRAPH_INTERVAL (plus a `for` loop's last iterations and those after a
        pause, which the learner sees); `n` and `s` capture each one (a cell that
        trains inside a function runs slower under `n` for it), a replay only the
        last one before its target, plain `tutor run` none (JSONL --graph: all)."""
        if self.runner._graph_events:
            return True
        if self.headless:
            return False
        if self.replaying:
            if self.target >= NOWHERE:
                return False  # it never arrives: no one sees a graph it captures
            if self.graph_point is not None:  # told by the process that ran here (a resume)
                return point == self.graph_point
            points = self.runner._backward_points
            later = bisect_right(points, point)
            return later >= len(points) or points[later] > self.target
        if self.mode != FREE or self.tail or self.stop_soon:
            return True
        if self.iteration is not None and self.iteration >= self.tail_from:
            return True
        if self.runner._view != "graph":  # no one looks while it runs (Runner.show_view)
            return False
        return time.monotonic() - self.graph_at >= GRAPH_INTERVAL

    # --- learning rate, cost, iteration records ---------------------------------

    def lr_step(self, p: int) -> None:
        """The end of pause point p, where the schedule may change the override: take a
        set_lr() given while running (it starts here, and replaces the schedule's
        later entries), then follow the schedule. apply_lr() puts it in force from
        the next pause point on, exactly as in the run that recorded the change."""
        runner = self.runner
        with runner._schedule_lock:
            if self.lr_pending is not _UNSET:
                value, self.lr_pending = self.lr_pending, _UNSET
                runner._schedule_set(p, value)
                forget = True
            else:
                forget = False
            new = runner._lr_at(p)
            self.next_change = runner._next_change(p)
        if forget:
            runner._forget_after(p)
        if new != self.override:
            self.override = new
            self.lr_active = True

    def apply_lr(self) -> None:
        """Put the override (or, after set_lr(None), the lesson's values) in force."""
        override = self.override
        ns = self.ns
        name = self.lesson.lr_name
        if override is None:  # restore once, then stop paying for this
            if self.lesson_lr is not None and _is_number(ns.get(name)):
                ns[name] = self.lesson_lr
            if self.frame is not None and self.lesson_lr is not None \
                    and _is_number(self.frame.f_locals.get(name)):
                self._set_local(name, self.lesson_lr)
            for opt, lrs in self.opt_original.values():
                for group, lr in zip(opt.param_groups, lrs):
                    group["lr"] = lr
            self.opt_original.clear()
            self.lr_active = False
            return
        current = ns.get(name)
        if current is not None and current != override and _is_number(current):
            ns[name] = override
        optimizer_cls = self._optimizer_cls
        values = list(ns.values())
        if self.frame is not None:
            local = self.frame.f_locals
            current = local.get(name)
            if current is not None and current != override and _is_number(current):
                self._set_local(name, override)
            values += local.values()
        for value in values:
            if isinstance(value, optimizer_cls):
                groups = value.param_groups
                if id(value) not in self.opt_original:
                    self.opt_original[id(value)] = (value, [g.get("lr") for g in groups])
                for group in groups:
                    if group.get("lr") != override:
                        group["lr"] = override

    def critical_lr(self) -> float | None:
        """2/λmax of the current loop's cost where the landscape tracker knows it."""
        tracker = self.landscape
        if tracker is None:
            return None
        if tracker.last is None and tracker.f is not None:
            tracker.current(force=True)
        return tracker.critical

    def _lookup(self, name: str, local: dict[str, Any] | None) -> Any:
        """`name` where the lesson code is: the function's locals first (scope())."""
        if local is not None and name in local:
            return local[name]
        return self.ns.get(name)

    def _optimizer(self, local: dict[str, Any] | None) -> Any:
        """The first torch.optim optimizer in scope() order: a function's locals (a few
        names), then the namespace, where the one found last is checked first (this
        runs every iteration; the namespace holds every name of the lesson)."""
        cls = self._optimizer_cls
        if local is not None:
            for value in local.values():
                if isinstance(value, cls):
                    return value
        found = self._lr_source
        if found is not None and self.ns.get(found[0]) is found[1] and (local is None or found[0] not in local):
            return found[1]
        for name, value in self.ns.items():
            if isinstance(value, cls) and (local is None or name not in local):
                self._lr_source = (name, value)
                return value
        self._lr_source = None
        return None

    def lr_in_force(self, local: Any = _UNSET) -> float | None:
        override = self.override
        if override is not None:
            return override
        if local is _UNSET:
            local = self.frame_locals()
        optimizer = self._optimizer(local)
        if optimizer is not None:
            try:
                return float(optimizer.param_groups[0]["lr"])
            except (IndexError, KeyError, TypeError, ValueError):
                pass
        current = self._lookup(self.lesson.lr_name, local)
        if _is_number(current):
            return float(current)
        return self.lesson_lr

    def current_cost(self, local: Any = _UNSET) -> float | None:
        if local is _UNSET:
            local = self.frame_locals()
        name = self.lesson.cost_name
        if name is None:
            name = "cost" if "cost" in self.ns or (local is not None and "cost" in local) else "loss"
        value = self._lookup(name, local)
        if isinstance(value, self._tensor_cls):
            if value.numel() != 1:
                return None
            try:
                return float(value.item())  # item() reads a tensor that requires grad as it is
            except (RuntimeError, TypeError, ValueError):
                return None
        if _is_number(value):
            return float(value)
        return None

    def record(self, iteration: int) -> None:
        local = self.frame_locals()  # once: a function frame's f_locals is rebuilt per read
        cost = self.current_cost(local)
        lr = self.lr_in_force(local)
        step = self.steps
        self.steps = step + 1
        if cost is not None:
            self.costs.append(CostPoint(step=step, cell=self.cell, iteration=iteration, cost=cost, lr=lr))
            self.cost = cost
        if self.recorded and lr != self.last_lr:
            self.lr_changes.append(step)
        self.recorded = True
        self.last_lr = lr
        self.loop_costs.append(cost)
        if self.until is not None and not self.replaying:
            self.check_until(iteration, cost)
        if cost is not None and not math.isfinite(cost):
            self.nonfinite = nonfinite_cost(lr, self.critical_lr())
            if self.mode == FREE and not self.headless:
                self.stop_soon = True
        if self.mode == FREE and not self.headless and not self.replaying and cost is not None:
            kind = dv.detect(self.loop_costs, iteration)
            if kind is not None:
                self.diverged(kind, iteration, cost)
        if self.runner._on_event is not None and not self.replaying:
            tensors = None
            optimizer = None
            if self.runner._record_every_iteration:
                from tutor.engine.inspection import optimizer_views, optimizers_in
                from tutor.engine.snapshot import named_tensors, plain_snapshot

                local = self.frame_locals()
                tensors = plain_snapshot(self.ns, local)
                found = optimizers_in(self.scope(), self._seen_optimizers())
                if found:
                    names = {id(t): name for name, t, _ in named_tensors(self.ns, local)}
                    views = optimizer_views(found[:1], names)
                    optimizer = views[0] if views else None
            self.emit(ev.Iteration(cell=self.cell, iteration=iteration, lr=lr, cost=cost,
                                   tensors=tensors, optimizer=optimizer))

    # --- run until, divergence -------------------------------------------------------

    def until_iteration(self, key: tuple[int, int]) -> None:
        """At an iteration point while running until `500`/`@500`: stop here when this
        is that iteration of the loop the command was given in (or the next entered)."""
        if key == self.until_loop or self.headless:  # headless: the first loop that gets there
            if self.iteration >= self.until.value:
                self.until_outcome = UntilOutcome(self.until.text, "reached", self.cell, self.iteration, self.cost)
                self.until = None
                self.stop_soon = True

    def check_until(self, iteration: int, cost: float | None) -> None:
        """An iteration was recorded while running until a condition on its numbers."""
        until = self.until
        if until.is_iteration:
            return
        costs = self.loop_costs
        previous = costs[-2] if len(costs) > 1 else None
        name = grad = None
        if until.kind == "grad_above":
            name, grad = _largest_grad(self.ns)
        if until.met(cost, previous, grad):
            self.until_outcome = UntilOutcome(until.text, "met", self.cell, iteration, cost, name, grad)
            self.until = None
            self.stop_soon = True

    def diverged(self, kind: str, i: int, cost: float) -> None:
        """Iteration i diverged during a free run: plan the replay that pauses after
        the last finite iteration and measures the updates on its way (see _Rewind).
        Once per loop, growth start and lr schedule: continuing from such a pause
        does not stop again for the same divergence."""
        runner = self.runner
        last = dv.last_finite(kind, i)
        start = dv.growth_start(self.loop_costs, last)
        key = (self.loop_key, kind, start, runner.lr_schedule)
        if key in runner._divergences_seen:
            return
        runner._divergences_seen.add(key)
        target = self.iter_points[i] if kind == "nonfinite" else self.points
        fact = Divergence(kind=kind, cell=self.cell, iteration=i, cost=cost, last_finite=last,
                          growth_start=start, back_point=self.iter_points[start])
        first = max(0, min(start, last - 1))
        self.rewind = (target, fact, (self.loop_key, first, last + 1))
        self.stop_soon = True

    def measure_point(self, key: tuple[int, int]) -> None:
        """During a divergence replay: copy the parameters at the iteration points
        whose updates are compared."""
        loop, first, last = self.measure
        if key == loop and first <= self.iteration <= last:
            self.measured.append(dv.parameter_copies(self.ns))
            if self.iteration == last - 1:
                # "Changed since the last pause" at the arrival counts from the iteration
                # before (the update that made the last finite cost), not from whatever
                # the free run happened to publish last.
                self.runner._snapshotter.take(self.ns)

    # --- pausing and publishing ---------------------------------------------------

    def suspend(self, index: int) -> None:
        """Publish the state at pause point `index` and wait for a command."""
        if self.rewind is not None:
            raise _Rewind()
        self.stop_soon = False
        self.tail = 0
        if index >= self.next_change:  # a set_lr() that came on the way here shows now
            self.lr_step(index)
        with self.cv:
            self.suspended_at = index
            silent = False
            if self.replaying:
                if self.measure is not None:
                    self.arrive_diverged()
                self.replaying = False
                silent = self.silent_arrival
                if self.mode == TO_CELL:  # the point was not known ahead: the lr in force here
                    self.runner._override = self.override
                if self.until is not None and self.until_loop is None:
                    self.until_loop = self.loop_key  # a run-until given during the replay
                if self.pending_mode is not None:
                    self.mode, self.pending_mode = self.pending_mode, None
                    if self.mode != STMT:
                        self.resume = True
                else:
                    self.mode = STMT
            self.status = "paused"
            if silent:  # the runner already shows this point (from its history)
                self.take_snapshot(self.runner._snapshotter)  # "changed since" counts from here
                self.runner._refresh_inspected(self)  # kept while another tensor was inspected
                self.runner._refresh_landscape(self)  # kept while no one looked at it
            else:
                shown = self.publish(snapshot=True, index=index)
                if shown is not None:
                    self.runner._remember(shown, self.costs)
            self.suspended = True
            workdir.leave(self)  # the directory is the lesson's only while its code runs
            self.cv.notify_all()  # wake Runner.wait()
            self.runner._settled(self)
            while not self.resume and not self.cancel:
                self.cv.wait()
            self.suspended = False
            self.resume = False
        if self.cancel:
            raise _Cancelled()
        if self.recorder is not None:
            self.recorder.armed = True  # the rest of this iteration, whatever comes next
        workdir.enter(self, self.runner._workdir)
        self.status = "running"
        self.publish(snapshot=False, index=index)

    def arrive_diverged(self) -> None:
        """The divergence replay arrived: name the parameter, show the fact."""
        name, growth = dv.fastest_update(self.measured)
        self.divergence = replace(self.divergence, parameter=name, update_growth=growth)
        if self.divergence.kind == "nonfinite":
            self.nonfinite = NonFiniteCost(lr=self.lr_in_force())
        self.measure = None
        self.measured = []

    def _costs_tuple(self) -> tuple[CostPoint, ...]:
        """The cost history as a tuple, shared between states while it does not grow."""
        cached = self._costs_cache
        if len(cached) != len(self.costs):
            cached = self._costs_cache = tuple(self.costs)
        return cached

    def publish(self, snapshot: bool, index: int | None = None, keep: bool = False) -> RunState | None:
        """Show the current state and return it (None when this run may not show
        anything: replaying, or stopped); `keep`: also keep it in the history (as
        paused there), for a state published while running freely."""
        runner = self.runner
        if runner._run is not self or self.replaying:
            return None
        state = self.build(self.status, snapshot, index)
        if runner._run is not self:  # stopped meanwhile: another state is shown now
            return None
        runner.state = state
        self.last_publish = time.monotonic()
        if keep:
            runner._remember(replace(state, status="paused"), self.costs)
        return state

    def keep(self, index: int) -> None:
        """Keep the state at pause point `index` in the history without stopping (a
        free run's last iterations and cell ends); shown too if a publication is due."""
        runner = self.runner
        if runner._run is not self or self.replaying:
            return
        state = self.build("paused", True, index)
        runner._remember(state, self.costs)
        if time.monotonic() - self.last_publish >= PUBLISH_INTERVAL and runner._run is self:
            runner.state = replace(state, status=self.status)
            self.last_publish = time.monotonic()

    def build(self, status: str, snapshot: bool, index: int | None) -> RunState:
        """The state at this point. Whatever lesson code building it runs (the
        landscape's cost statements, a property read for the graph preview or the
        inspector) runs as the engine's (engine_code)."""
        self.take_fd_output()  # shown with the state (a long subprocess, at its end)
        with self.engine_code():
            return self._build(status, snapshot, index)

    def _build(self, status: str, snapshot: bool, index: int | None) -> RunState:
        runner = self.runner
        current = runner.state
        if snapshot and self.ns:
            snapshotter = runner._snapshotter
            tensors = self.take_snapshot(snapshotter)
            updates, optimizers = self.extras(snapshotter.names)
            inspected = self.inspected(runner._inspect, snapshotter)
        else:
            tensors = current.tensors
            updates, optimizers, inspected = current.updates, current.optimizers, current.inspected
        if index is None:
            index = self.points
        truncated = False
        outputs = {}
        for cell, capture in self.outputs.items():
            outputs[cell] = capture.text()
            truncated = truncated or capture.truncated
        stderr = {}
        for cell, capture in self.stderr.items():
            stderr[cell] = capture.text()
            truncated = truncated or capture.truncated  # a warning flood is cut too
        landscape = problem = None
        if self.landscape is not None:
            if self.ns:
                tracker = self.landscape
                if self.status == "running" and runner._view != "landscape" and tracker.last is not None:
                    # the run goes on (a publication, a kept state) and no one looks:
                    # the one computed last (a pause, the loop's start; see show_view)
                    landscape = tracker.last
                else:
                    landscape = tracker.current(force=snapshot and status != "running")
            problem = self.landscape.problem
        return RunState(
            landscape=landscape,
            landscape_problem=problem,
            status=status,
            cell=self.cell,
            line=self.line,
            iteration=self.iteration,
            pause_index=index if status in ("paused", "running") else self.points,
            lr=self.lr_in_force() if self.ns else self.override,
            lr_override=self.override,
            cost=self.cost,
            costs=self._costs_tuple(),
            lr_changes=tuple(self.lr_changes),
            tensors=tensors,
            outputs=outputs,
            output_truncated=truncated,
            stderr=stderr,
            cells_done=tuple(self.cells_done),
            error=self.error,
            nonfinite=self.nonfinite,
            finished=self.finished,
            frame=self.where(),
            figures={cell: tuple(views) for cell, views in getattr(self, "figures", {}).items()},
            updates=updates,
            optimizers=optimizers,
            inspected=inspected,
            backward=self.graph,
            graph_preview=self.graph_preview() if snapshot and status == "paused" and self.ns else None,
            until=self.until_outcome,
            divergence=self.divergence,
        )

    def _seen_optimizers(self) -> tuple:
        return () if self.recorder is None else tuple(self.recorder.optimizers)

    def extras(self, names: dict[int, str]) -> tuple[tuple, tuple]:
        """(updates, optimizers) for a state: the parameters' last updates and the
        optimizers' state. Optimizer state changes only in a step, which bumps
        the recorder's version, so unchanged ones are reused between states."""
        from tutor.engine.inspection import optimizer_views, optimizers_in

        found = optimizers_in(self.scope(), self._seen_optimizers())
        version = -1 if self.recorder is None else self.recorder.version
        lrs = tuple(o.param_groups[0].get("lr") if o.param_groups else None for _, o in found)
        key = (version, tuple(id(o) for _, o in found), lrs, tuple(names.items()))
        cached = self._extras
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        updates = () if self.recorder is None else self.recorder.views(names)
        optimizers = optimizer_views(found, names) if found else ()
        self._extras = (key, updates, optimizers)
        return updates, optimizers

    def inspected(self, name: str | None, snapshotter: Any) -> Any:
        """The inspected tensor whole, with its change since the previous pause (the
        snapshot of this pause is taken already: compared with the one before)."""
        if name is None or not self.ns:
            return None
        from tutor.engine.inspection import inspect, optimizers_in

        previous = snapshotter.earlier(name)
        try:
            scope = self.scope()
            return inspect(scope, name, previous, optimizers_in(scope, self._seen_optimizers()))
        except Exception:  # an odd tensor: the inspector says it has nothing to show
            return None


def nonfinite_cost(lr: float | None, critical: float | None) -> NonFiniteCost:
    """The fact of a nan/inf cost; with the critical learning rate when it is known
    and the lr in force is above it (the number the landscape view shows)."""
    if critical is None or lr is None or lr <= critical:
        return NonFiniteCost(lr=lr)
    return NonFiniteCost(lr=lr, critical_lr=critical)


def _state_size(state: RunState) -> int:
    """Roughly the bytes a kept state holds: its output characters, and 32 per number
    in its tensor views (a float and its list slot), 200 per view."""
    size = sum(len(text) for text in state.outputs.values())
    land = state.landscape
    if land is not None:  # its path (tuples shared between states only for element axes)
        size += 8 * len(land.path) + (0 if all(not a.direction for a in land.axes) else 100 * len(land.path))
    for view in state.tensors:
        numel = math.prod(view.shape)
        if view.value is not None:
            numbers = numel * (1 + (view.grad is not None) + (view.delta is not None))
        else:
            numbers = 8  # stats and grad_stats
        size += 200 + 32 * numbers
    inspected = state.inspected
    if inspected is not None and inspected.view is not None:
        v = inspected.view
        numel = math.prod(v.shape) if v.value is not None else 0
        size += 32 * numel * 3 + sum(32 * math.prod(s.shape) for s in inspected.state)
    size += 400 * len(state.updates)
    preview = state.graph_preview  # made for this state (the captured graph is shared)
    if preview is not None:
        for node in preview.nodes:
            size += 300 + 64 * min(math.prod(node.shape), 64)  # value and local rules
    return size


def _no_input(prompt: object = "") -> str:
    """Lesson code has no keyboard: the terminal belongs to the app."""
    raise RuntimeError("input() is not available in a lesson")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _largest_grad(namespace: dict[str, Any]) -> tuple[str | None, float | None]:
    """The parameter with the largest gradient norm (as the tensor table names it)."""
    from tutor.engine.snapshot import grad_of, named_tensors

    best: tuple[str | None, float | None] = (None, None)
    for name, tensor, is_param in named_tensors(namespace):
        grad = grad_of(tensor) if is_param else None
        if grad is None:
            continue
        norm = float(grad.detach().double().norm())
        if best[1] is None or norm > best[1] or (math.isnan(norm) and not math.isnan(best[1])):
            best = (name, norm)
    return best


class Runner:
    """Runs one lesson; see the module docstring and docs/architecture.md."""

    # Called on the worker thread at every iteration point and cell end, with the run
    # and the point's number, before anything else happens there (the kernel forks its
    # checkpoints here: engine/kernel/checkpoints.py). None in-process.
    point_hook: Callable[["_Run", int], None] | None = None
    # Called on the worker thread when a cell starts (not in a replay), with its index
    # and first lesson line: a kernel notes where it is (kernel.py, CellWatch) without
    # an event handler, which would make every iteration build an event. None in-process.
    cell_hook: Callable[[int, int], None] | None = None
    # Takes what lesson code wrote to file descriptors 1 and 2 since the last call, as
    # (stdout, stderr); `force`: also what the pipes still hold (kernel/fd_output.py).
    # None in-process, where those fds are the terminal's.
    fd_output: Callable[[bool], tuple[str, str]] | None = None

    def __init__(
        self,
        lesson: Lesson,
        lr_override: float | None = None,
        on_event: Callable[[ev.Event], None] | None = None,
        record_every_iteration: bool = False,
        torch_threads: int | None = TORCH_THREADS,
        landscape: bool = False,
        graph_events: bool = False,
        view: str = "cost",
    ) -> None:
        self.lesson = lesson
        self._workdir = workdir.lesson_dir(lesson.path)  # lesson code runs there (workdir.py)
        # Track the cost landscape (engine/landscape.py): RunState.landscape, and a
        # LandscapeEvent at the end of each steppable loop for on_event.
        self._landscape = landscape
        # The view the learner looks at beside the code ("cost", "landscape", "graph";
        # see show_view): what a free run keeps up to date for it.
        self._view = view
        # Report a `Backward` event (the captured graph) for every backward() call.
        self._graph_events = graph_events
        # Pause-point counts at which backward() was called, first time passed
        # (8 bytes each, dropped past STOPS_LIMIT): a replay captures only the last
        # backward before its target (see _Run.wants_graph).
        self._backward_points = array("q")
        self._backward_floor = 0  # points below it were dropped from _backward_points
        self._torch_threads = torch_threads
        self._override = check_lr(lr_override)  # the learner's lr where the run is now
        # The lr schedule: (pause point, override) in increasing point order; an entry
        # (p, x) means "x from the end of point p on" (-1: from the start). set_lr()
        # adds one where the run is, dropping later ones (a new branch); goto() and
        # every replay follow it, so going back across an lr change is exact and the
        # history stays valid up to the change.
        self._schedule: list[tuple[int, float | None]] = [(-1, self._override)]
        self._schedule_lock = threading.Lock()
        self._on_event = on_event
        self._record_every_iteration = record_every_iteration
        self._lock = threading.RLock()
        self._cells: dict[int, InstrumentedCell | SyntaxError] = {}
        self._run: _Run | None = None
        # pause index -> (state without its costs, the run's cost list, how many, size)
        self._history: OrderedDict[int, tuple[RunState, list[CostPoint], int, int]] = OrderedDict()
        self._history_size = 0
        self._history_lock = threading.Lock()
        self._snapshotter_obj: Any = None  # created on the worker: it imports torch
        # Where next() stops, in order: iteration points and cell ends (see _note_stop).
        self._stops = array("q")
        self._stop_kinds: dict[int, int] = {}  # 0: a loop's first iteration point, -1: cell end
        self._moved_by = STMT  # the learner's last move forward: STMT, or ITER_MODE for n/run
        self._inspect: str | None = None  # the tensor the states carry whole (inspect())
        self._divergences_seen: set[tuple] = set()  # see _Run.diverged
        self.state = RunState(status="idle", pause_index=-1, lr=self._override, lr_override=self._override)

    @property
    def _snapshotter(self) -> Any:
        if self._snapshotter_obj is None:
            from tutor.engine.snapshot import Snapshotter

            self._snapshotter_obj = Snapshotter()
        return self._snapshotter_obj

    def _compiled(self, cell: Cell) -> InstrumentedCell:
        """A cell's instrumented code, compiled once per runner (replays reuse it)."""
        found = self._cells.get(cell.index)
        if found is None:
            try:
                found = instrument(
                    cell.source, filename=str(self.lesson.path), first_line=cell.line,
                    lr_name=self.lesson.lr_name,
                )
            except SyntaxError as exc:
                found = exc
            self._cells[cell.index] = found
        if isinstance(found, SyntaxError):
            raise found
        return found

    def precompile(self) -> None:
        """Instrument and compile every cell now (a kernel does it while idle), not
        when a run first reaches it (then it costs the run a few ms per cell)."""
        for cell in self.lesson.runnable_cells:
            try:
                self._compiled(cell)
            except SyntaxError:
                pass  # kept, raised when the run reaches the cell

    # --- commands ------------------------------------------------------------------

    def next(self) -> None:
        """One iteration inside a steppable loop, else run the next cell."""
        self._command(ITER_MODE)

    def step(self) -> None:
        """One statement."""
        self._command(STMT)

    def run(self) -> None:
        """Run freely until done, error, a non-finite cost, or pause()."""
        self._command(FREE)

    def run_until(self, condition: Condition | str) -> None:
        """Run until a condition (engine/until.py; a text is parsed, UntilError when
        refused, nothing changed): run freely and pause at the first iteration that
        meets it, or at the end of the current loop (or of the next one entered),
        with `state.until` saying which. `500` pauses at iteration 500 of that loop;
        `@500` too, and both go back there through goto() when it is behind.
        Given after the run ended, nothing runs and `state.until` says "end"."""
        if not isinstance(condition, Condition):
            condition = parse_until(condition)
        with self._lock:
            run = self._run
            if run is not None and condition.is_iteration and not run.replaying:
                back = self._iteration_point(run, condition)
                if back is not None:
                    self._moved_by = ITER_MODE
                    if not (run.suspended and run.suspended_at == back):
                        self.goto(back)
                    return
            if run is not None and run.ended and run.status == "done":
                self.state = replace(self.state, until=UntilOutcome(condition.text, "end"))
                return
            self._command(FREE, until=condition)

    def jump(self, iteration: int) -> None:
        """`@iteration`: to that iteration of the current loop, forward by running,
        backward through goto()."""
        self.run_until(Condition("jump", int(iteration), f"@{int(iteration)}"))

    @staticmethod
    def _iteration_point(run: _Run, condition: Condition) -> int | None:
        """The pause point of iteration `condition.value` of the current loop when it
        is at or behind where the run is (or, for `@k` outside a loop, of the loop
        left last); None when it lies ahead."""
        n = condition.value
        if run.loop_key is not None:
            points = run.iter_points
            if run.iteration is not None and n <= run.iteration and n < len(points):
                return points[n]
            return None
        key, points = run.last_loop
        if (condition.kind == "jump" or run.ended) and key is not None and n < len(points):
            return points[n]
        return None

    def pause(self) -> None:
        """Stop at the next pause point; in a free run inside a loop, TAIL_POINTS
        iteration points later (their states kept, so step back is instant there)."""
        with self._lock:
            run = self._run
            if run is None:
                return
            with run.cv:
                if run.replaying:
                    run.pending_mode = STMT
                elif not run.suspended:
                    if run.mode == FREE and run.loop_key is not None and not run.tail:
                        run.tail = TAIL_POINTS
                    elif run.mode != FREE or not run.tail:
                        run.mode = STMT

    def run_to_cell_end(self, c: int) -> None:
        """Run freely, as run() does (publishing on the way), and pause at the end of
        cell c (at done when c is the last runnable cell): `space` runs a section."""
        self._command(FREE, stop_cell=c)

    def _command(self, mode: int, until: Condition | None = None, stop_cell: int | None = None) -> None:
        with self._lock:
            run = self._run
            if run is None:
                self._moved_by = STMT if mode == STMT else ITER_MODE
                run = _Run(self, mode)
                run.until = until
                run.stop_cell = stop_cell
                self._start(run)
                return
            with run.cv:
                if run.status in ("done", "error"):
                    return
                self._moved_by = STMT if mode == STMT else ITER_MODE
                # A new command: what the last one stopped for is no longer the news.
                run.until, run.until_outcome, run.divergence = until, None, None
                run.until_loop = None if run.replaying else run.loop_key
                run.stop_cell = stop_cell
                if run.replaying:
                    run.pending_mode = mode
                    return
                run.mode = mode
                if run.suspended:
                    run.resume = True
                    run.cv.notify_all()

    def _start(self, run: _Run) -> None:
        self._run = run
        thread = threading.Thread(target=self._work, args=(run,), name="tutor-runner", daemon=True)
        run.thread = thread
        thread.start()

    def _work(self, run: _Run) -> None:
        try:
            run.execute()
        except _Rewind:
            self._rewind(run)
        except _Cancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 - the engine's own failure, not the lesson's
            run.failed_outside_lesson_code(exc)
        finally:
            workdir.leave(run)
            with run.cv:
                run.ended = True
                run.cv.notify_all()
            self._settled(run)

    def _rewind(self, run: _Run) -> None:
        """On the diverged run's own thread: start the replay that replaces it (to
        the last finite iteration, measuring updates on the way; through the same
        path as goto, so checkpoints serve it). The lock is polled, never waited
        for: whoever holds it may be cancelling this very run and joining it."""
        while not self._lock.acquire(timeout=0.01):
            if run.cancel:
                return
        try:
            if self._run is not run or run.cancel:
                return
            target, fact, measure = run.rewind
            new = _Run(self, GOTO, target=target)
            new.divergence, new.measure = fact, measure
            new.until_outcome = run.until_outcome  # `nan` met: said at the pause too
            run.rewound = True
            self.state = replace(self.state, status="running", pause_index=target)
            self._start(new)
        finally:
            self._lock.release()

    def wait(self, timeout: float | None = None) -> RunState:
        """Block until the worker waits for a command or the run has ended (or the
        timeout passes); return the state. For headless drivers and tests; the app
        never needs it. A diverged run replaced by its replay is followed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self._run
            if run is None:
                break
            with run.cv:
                while not run.ended and not (run.suspended and not run.resume):
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    run.cv.wait(remaining)
            if not (run.ended and run.rewound and self._run is not run):
                break
        return self.state

    def reset(self) -> None:
        """Cancel, forget the namespace; the next command starts from cell 0."""
        with self._lock:
            self._stop()
            if self._snapshotter_obj is not None:
                self._snapshotter_obj.forget()
            with self._schedule_lock:  # reset keeps the override in force, from the start
                fresh = [(-1, self._override)]
                changed = self._schedule != fresh
                self._schedule = fresh
            if changed:
                self.clear_history()
            self.state = RunState(status="idle", pause_index=-1, lr=self._override, lr_override=self._override)

    def goto(self, k: int) -> None:
        """Replay from a fresh namespace to pause point k (k < 0: reset)."""
        with self._lock:
            if k < 0:
                self.reset()
                return
            with self._history_lock:
                known = self._history.get(k)
            shown = None
            self._override = self._lr_at(k)
            if known is not None:
                kept, costs, count, _ = known
                lr = kept.lr if self._override is None else self._override
                shown = replace(kept, costs=tuple(costs[:count]), lr_override=self._override, lr=lr)
            if self._retarget(k, shown):
                return
            self._stop(show=shown)  # shown before joining the old worker: that can take ms
            run = _Run(self, GOTO, target=k)
            if shown is not None:
                run.silent_arrival = True
                self.state = shown
            else:
                # Until the replay arrives, show that it is under way, already counted
                # at k: a second step back goes back from k, not again from here.
                self.state = replace(self.state, status="running", pause_index=k)
            self._start(run)

    def goto_cell(self, c: int) -> None:
        """Pause at the start of cell `c`: at the end of the last runnable cell before
        it, every cell before it run in full (loops included) without publishing on
        the way (fast). From a pause before that point the run goes on from where it
        is; otherwise (a later point, done, error, idle) it replays from a fresh
        namespace. No runnable cell before `c`: reset. Commands given on the way
        wait for the arrival, as during a goto's replay. Resuming a lesson and the
        sections that follow execution use this, so both count cells as the engine
        does (no second runner to find the point)."""
        with self._lock:
            before = [cell.index for cell in self.lesson.runnable_cells if cell.index < c]
            if not before:
                self.reset()
                return
            end = before[-1]
            run = self._run
            if run is not None:
                with run.cv:
                    here = run.suspended and not run.resume and not run.replaying
                    if here and run.status == "paused" and run.cell is not None:
                        if run.cell == end and end in run.cells_done:
                            return  # already there
                        if run.cell < end or (run.cell == end and end not in run.cells_done):
                            run.mode, run.target_cell = TO_CELL, end
                            run.replaying, run.pending_mode, run.silent_arrival = True, None, False
                            self._moved_by = ITER_MODE
                            self.state = replace(self.state, status="running")
                            run.resume = True
                            run.cv.notify_all()
                            return
            self._stop()
            run = _Run(self, TO_CELL)
            run.target_cell = end
            self._moved_by = ITER_MODE
            self.state = replace(self.state, status="running")
            self._start(run)

    def _retarget(self, k: int, shown: RunState | None) -> bool:
        """A replay still on its way to a later point stops at k instead, rather than
        starting over (quick step backs, or a key held down, cost one replay).

        Sound because k is lowered before the worker gets there: it checks
        `p >= target` after counting point p, so if after writing the new target it
        has counted at most k points, every point from k on sees the new target.
        Otherwise (it got past k meanwhile), False: the caller starts a new replay.
        """
        run = self._run
        if run is None:
            return False
        with run.cv:
            if not run.replaying or run.measure is not None or run.mode != GOTO or k >= run.target or run.points > k:
                return False
            if run.graph_point is not None:
                return False  # it skipped the graphs of backward() calls it passed: replay anew
            old = (run.target, run.silent_arrival, run.pending_mode)
            run.target = k
            if run.points > k:  # it passed k before seeing the new target
                run.target, run.silent_arrival, run.pending_mode = old
                return False
            run.silent_arrival = shown is not None
            run.pending_mode = None  # commands given before this goto are dropped, as by a new replay
            self.state = shown if shown is not None else replace(self.state, status="running", pause_index=k)
            return True

    def step_back(self) -> None:
        """Back one step, as the learner moved (see back_target); nothing when idle."""
        with self._lock:
            target = self.back_target()
            if target is not None:
                self.goto(target)

    def can_step_back(self) -> bool:
        """Would step_back() go anywhere now?"""
        return self.back_target() is not None

    def back_target(self, state: RunState | None = None) -> int | None:
        """The pause point step_back() goes to from `state` (default: the current one).

        Step back follows how the learner moved forward last. After `step()`: the
        previous pause point. After `next()` or a free run: the previous point where
        next() stops, so from an iteration point the previous iteration of that loop
        (the previous epoch), from a cell end the loop's last iteration or the end of
        the cell before; from a loop's first iteration point, the point just before
        it (the loop's own statement). From an error: the point before it, the
        statement that failed. None when idle.
        """
        state = self.state if state is None else state
        p = state.pause_index
        if p < 0:
            return None
        if state.status == "error":
            return p - 1
        return self._back_from(p, at=state.status in ("paused", "running"))  # done: p counts the points passed

    def _back_from(self, p: int, at: bool) -> int:
        """The point a step back goes to from point p (`at`: waiting there)."""
        if self._moved_by == STMT or (at and self._stop_kinds.get(p) == 0):
            return p - 1
        i = bisect_left(self._stops, p)  # stops before p
        return self._stops[i - 1] if i > 0 else p - 1

    def back_targets(self, state: RunState | None = None, n: int = BACK_CHAIN) -> tuple[int, ...]:
        """The points up to `n` step backs in a row go to from `state`: the first is
        back_target(state), each next one back_target of a pause at the one before.
        A kernel sends them with each state, so a burst of `b` keys goes back once per
        key before its answers come (the app only knows the points it was told)."""
        state = self.state if state is None else state
        first = self.back_target(state)
        if first is None:
            return ()
        chain = [first]
        while len(chain) < n and chain[-1] > 0:
            chain.append(self._back_from(chain[-1], at=True))
        return tuple(chain)

    def _note_stop(self, index: int, iteration: int) -> None:
        """The worker passed an iteration point (`iteration` >= 0) or a cell end (-1)
        for the first time. Runs are deterministic, so the numbering holds for replays;
        it is kept across overrides too (points depend on the lr only when the control
        flow does; then step back still lands on a real point, of another kind)."""
        stops = self._stops
        stops.append(index)
        if iteration <= 0:
            self._stop_kinds[index] = iteration
        if len(stops) > STOPS_LIMIT:
            half = len(stops) // 2
            floor = stops[half]
            del stops[:half]
            for key in [k for k in self._stop_kinds if k < floor]:
                del self._stop_kinds[key]

    def clear_history(self) -> None:
        """Forget the paused states kept for goto() (the next goto replays)."""
        with self._history_lock:
            self._history.clear()
            self._history_size = 0

    def _remember(self, state: RunState, costs: list[CostPoint]) -> None:
        """Keep a paused state for an instant goto() (bounded; oldest dropped).

        `costs` is the run's own cost list, which only ever grows: the state is kept
        with a reference to it and its length instead of its own tuple, so that 3000
        epochs' cost points are not held once per state kept (8 bytes per point per
        state: 8 MB for 336 states of lesson 10 stepped with `n`).
        """
        count = len(state.costs)
        size = _state_size(state)
        state = replace(state, costs=(), until=None, divergence=None)  # news of that moment only
        with self._history_lock:  # not self._lock: that one is held while joining the worker
            history = self._history
            old = history.pop(state.pause_index, None)
            if old is not None:
                self._history_size -= old[3]
            history[state.pause_index] = (state, costs, count, size)
            self._history_size += size
            while history and (len(history) > HISTORY_SIZE or self._history_size > HISTORY_BUDGET):
                _, (_, _, _, dropped) = history.popitem(last=False)
                self._history_size -= dropped

    def show_view(self, view: str) -> None:
        """The learner now looks at `view` ("landscape", "graph", or another: the cost
        plot, the default). While
        running freely, the landscape's surface (a grid of costs, the Hessian's λmax:
        about a tenth of a small model's free run) is recomputed only while it is
        looked at, and backward() graphs are captured a few times a second only then;
        paused states carry both, exact for their point (shown at once here when the
        run waits and the view needs them)."""
        with self._lock:
            self._view = view
            run = self._run
            if run is None:
                return
            with run.cv:
                if (run.suspended and not run.resume) or run.ended:
                    self._refresh_landscape(run)

    def inspect(self, name: str | None) -> None:
        """Carry the tensor `name` whole in the states from now on (None: none),
        for the inspector. At a pause or after the end, the current state gets it at
        once (the worker is waiting, so its namespace holds still); while running,
        the next published state has it."""
        with self._lock:
            if name == self._inspect:
                return
            self._inspect = name
            run = self._run
            if run is None:
                return
            with run.cv:
                if (run.suspended and not run.resume) or run.ended:
                    self._refresh_inspected(run)

    def _refresh_landscape(self, run: "_Run") -> None:
        """Give the waiting run's state the landscape of its own point when the
        landscape is looked at and the state carries an older one (a state from the
        history, or one published while running). Called with the run waiting."""
        tracker = run.landscape
        if self._view != "landscape" or tracker is None or self._run is not run or not run.ns:
            return
        state = self.state
        if state.landscape is not None and tracker.last is state.landscape \
                and tracker.computed_points == len(tracker.path):
            return
        landscape = tracker.current(force=True)
        self.state = replace(state, landscape=landscape, landscape_problem=tracker.problem)

    def _refresh_inspected(self, run: "_Run") -> None:
        """Give the current state the inspected tensor if it shows another (a state
        from the history, or inspect() at a pause). Called with the run waiting."""
        state = self.state
        name = self._inspect
        have = state.inspected.name if state.inspected is not None else None
        if have == name or self._run is not run or not run.ns:
            return
        with run.engine_code():
            inspected = run.inspected(name, self._snapshotter)
        self.state = replace(state, inspected=inspected)

    def set_lr(self, value: float | None) -> None:
        """The learner's learning rate (None: the lesson's own) from where the run is:
        recorded in the lr schedule at the current pause point (replacing the
        schedule's later entries), in force from the next pause point on."""
        value = check_lr(value)
        with self._lock:
            if value == self._override:
                return
            self._override = value
            run = self._run
            if run is None:  # idle: a new start value, so nothing kept holds any more
                with self._schedule_lock:
                    self._schedule = [(-1, value)]
                self.clear_history()
                self._show_override()
                return
            with run.cv:
                # goto_cell's way there is not a point the learner is shown at: as running
                if run.suspended or run.ended or (run.replaying and run.mode != TO_CELL):
                    if run.replaying:
                        p = run.target  # the point the learner is shown at
                    elif run.suspended:
                        p = run.suspended_at
                    else:
                        p = run.points
                    with self._schedule_lock:
                        self._schedule_set(p, value)
                    self._forget_after(p)
                    run.next_change = min(run.next_change, p)
                    if not run.replaying:
                        self._show_override()
                else:
                    # Running: the worker records it at the end of its next pause point
                    # (and publishes it itself: replacing its state from here could undo
                    # a newer one, e.g. "done").
                    run.lr_pending = value
                    run.next_change = -1

    def last_backward_before(self, k: int) -> int | None:
        """The pause point of the last backward() at or before point k, -1 when none,
        None when not known (the run has not passed k). A replay from a checkpoint
        captures that one graph only (its process has not passed the points after its
        checkpoint, so it would otherwise capture every backward() on the way)."""
        stops = self._stops
        if not stops or stops[-1] < k:
            return None
        if k < self._backward_floor:
            return None  # trimmed away
        points = self._backward_points
        i = bisect_right(points, k)
        return points[i - 1] if i else -1

    def _settled(self, run: _Run) -> None:
        """On the worker: it now waits for a command, or the run ended (a kernel tells
        its IO loop: kernel.py)."""

    @property
    def lr_override(self) -> float | None:
        """The learner's lr as last set (None: the lesson's own)."""
        return self._override

    @property
    def lr_schedule(self) -> tuple[tuple[int, float | None], ...]:
        """The lr schedule as (pause point, override) pairs; (-1, x) is the start value.
        A replay (goto, or a process checkpoint resumed) follows exactly this."""
        with self._schedule_lock:
            return tuple(self._schedule)

    def set_lr_schedule(self, schedule) -> None:
        """Install a whole schedule (e.g. in a checkpoint process resumed for a goto: its
        entries up to its own point must be the ones it ran with). The worker follows
        it from its next pause point's end; nothing kept is dropped."""
        entries = sorted((int(p), check_lr(v)) for p, v in schedule)
        if not entries or entries[0][0] != -1:
            raise ValueError("an lr schedule starts with the entry (-1, start value)")
        with self._lock:
            with self._schedule_lock:
                self._schedule = entries
            run = self._run
            if run is not None:
                with run.cv:
                    run.next_change = -1
                    p = run.suspended_at if run.suspended else run.points - 1
            else:
                p = -1
            self._override = self._lr_at(max(p, -1))

    def _schedule_set(self, p: int, value: float | None) -> None:
        """(p, value) replaces the entries from p on (hold _schedule_lock)."""
        schedule = self._schedule
        i = bisect_left(schedule, p, key=lambda entry: entry[0])
        del schedule[i:]
        if i == 0:
            schedule.append((-1, value))
        elif schedule[-1][1] != value:
            schedule.append((p, value))

    def _lr_at(self, p: int) -> float | None:
        """The override after pause point p's end (p = -1: at the start)."""
        schedule = self._schedule
        value = schedule[0][1]
        for point, lr in schedule:
            if point > p:
                break
            value = lr
        return value

    def _next_change(self, p: int) -> int:
        """The first schedule point after p (NEVER when none)."""
        for point, _ in self._schedule:
            if point > p:
                return point
        return NEVER

    def _forget_after(self, p: int) -> None:
        """States kept for points after p ran with the schedule that p's change replaced."""
        with self._history_lock:
            history = self._history
            for key in [key for key in history if key > p]:
                self._history_size -= history.pop(key)[3]

    def _show_override(self) -> None:
        state = self.state
        value = self._override
        self.state = replace(state, lr_override=value, lr=value if value is not None else state.lr)

    def close(self) -> None:
        """Cancel and join the worker."""
        with self._lock:
            self._stop()

    def _stop(self, show: RunState | None = None) -> None:
        """Cancel and join the worker; `show` becomes the state as soon as the old
        worker can no longer publish (before the join)."""
        run = self._run
        self._run = None
        if show is not None:
            self.state = show
        if run is None:
            return
        with run.cv:
            run.cancel = True
            run.cv.notify_all()
        thread = run.thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(CANCEL_TIMEOUT / 2)
        if thread.is_alive() and not run.ended and thread.ident is not None:
            # Stuck in a loop that has no pause point (e.g. inside a function): raise
            # the cancellation in that thread at its next bytecode.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_Cancelled))
            thread.join(CANCEL_TIMEOUT / 2)

    def run_to_end(self, until: Condition | None = None) -> RunState:
        """Headless: run every cell in the calling thread; return the final state.
        With `until`, stop at the pause point where it is first met (any loop; the
        returned state is "paused" there, `state.until` says what was met) or, never
        met, at the end ("done", `state.until.reason == "end"`)."""
        with self._lock:
            self._stop()
            run = _Run(self, FREE, headless=True)
            run.until = until
            self._run = run
        try:
            run.execute()
        except _Stopped:
            run.status = "paused"
            self.state = run.build("paused", True, run.points - 1)
        except _Cancelled:
            if run.emit_error is not None:
                raise run.emit_error from None
        finally:
            workdir.leave(run)
        return self.state
