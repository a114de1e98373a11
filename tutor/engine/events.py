"""Events a runner reports as they happen (design §3's JSONL, as dataclasses).

`Runner(on_event=...)` receives every event on the worker thread, in order. They
are what `tutor run` prints (plain text for `Output`, JSON lines with `--jsonl`).
Replays (`goto`) re-execute code that already reported its events, so a replay
reports none.
"""

from __future__ import annotations

from dataclasses import dataclass

from tutor.engine.state import BackwardGraph, FigureView, Landscape, OptimizerView, TensorView


@dataclass(frozen=True)
class CellStarted:
    cell: int  # Cell.index
    line: int  # lesson-file line of the cell's first code line


@dataclass(frozen=True)
class Output:
    cell: int
    text: str  # one print call (or one echoed repr, one write), newline included
    stream: str = "stdout"  # or "stderr" (warnings, logging, progress bars: streams.py)


@dataclass(frozen=True)
class Iteration:
    cell: int
    iteration: int  # 0-based, the loop's own counter
    lr: float | None  # learning rate in force during the iteration
    cost: float | None  # may be nan/inf; None when the lesson has no cost variable
    tensors: tuple[TensorView, ...] | None = None  # only with record_every_iteration
    optimizer: OptimizerView | None = None  # the first optimizer, only with record_every_iteration


@dataclass(frozen=True)
class Error:
    cell: int
    line: int  # lesson-file line
    type: str
    message: str


@dataclass(frozen=True)
class Backward:
    """A backward() call made by lesson code, with its captured graph
    (only with `Runner(graph_events=True)`, i.e. `tutor run --jsonl --graph`)."""

    cell: int
    line: int | None  # lesson-file line of the call
    graph: BackwardGraph


@dataclass(frozen=True)
class Done:
    seconds: float


@dataclass(frozen=True)
class LandscapeEvent:
    """The end of a steppable loop, with its landscape (Runner(landscape=True) only);
    `landscape.path` holds every point of the loop (not thinned)."""

    cell: int
    iteration: int  # the loop's last iteration
    landscape: Landscape


@dataclass(frozen=True)
class FigureShown:
    """A matplotlib figure the lesson showed (plt.show() or its cell's end), as data
    (engine/figures.py; `figures.render` draws it as text)."""

    cell: int
    figure: FigureView


Event = CellStarted | Output | Iteration | Error | Backward | Done | LandscapeEvent | FigureShown
