"""What a runner shows the outside world: immutable snapshots of a run.

The runner's worker thread builds a new `RunState` at every pause (and every few
tens of milliseconds while running freely) and publishes it by replacing one
attribute. Readers (the app's refresh timer, tests, `tutor run`) take the current
object and render it without any lock: nothing in it is ever mutated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tutor.engine.lesson import Text

SMALL_TENSOR = 64  # tensors with more elements are shown as stats, not values

Status = Literal["idle", "running", "paused", "done", "error"]


@dataclass(frozen=True)
class TensorView:
    """One tensor at one pause, as plain Python data.

    `value`/`grad` are nested lists when the tensor has at most 64 elements;
    larger tensors give `stats` (mean, std, min, max) instead of `value`
    (and `grad_stats` instead of `grad`). `delta` is value minus the value at the
    previous pause (same shape as `value`), None when new or big.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    value: list | float | None = None
    grad: list | float | None = None
    stats: dict[str, float] | None = None
    grad_stats: dict[str, float] | None = None
    requires_grad: bool = False
    is_parameter: bool = False  # nn.Module parameter or a leaf with requires_grad
    changed: bool = False  # value differs from the previous pause
    grad_changed: bool = False
    delta: list | float | None = None


@dataclass(frozen=True)
class CostPoint:
    """One iteration of a steppable loop: x for the plot is `step` (0-based, global
    across the run), `iteration` is the loop's own 0-based counter."""

    step: int
    cell: int
    iteration: int
    cost: float  # may be nan/inf
    lr: float | None


@dataclass(frozen=True)
class ErrorInfo:
    """An exception raised by lesson code, located in the lesson file."""

    cell: int
    line: int  # 1-based line in the lesson file
    type: str
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class RunState:
    status: Status = "idle"
    cell: int | None = None  # index (Lesson.cells) of the cell running / about to run
    line: int | None = None  # lesson-file line about to run (at a pause)
    iteration: int | None = None  # iteration of the current steppable loop
    # Number of the pause point the worker waits at (0-based, counted from the start of
    # the run; for replay: step back is goto(pause_index - 1)). In done/error: the
    # number of points passed; -1 before the run starts.
    pause_index: int = -1
    lr: float | None = None  # learning rate in force
    lr_override: float | None = None
    cost: float | None = None  # latest cost
    costs: tuple[CostPoint, ...] = ()
    lr_changes: tuple[int, ...] = ()  # steps at which the lr in force changed
    tensors: tuple[TensorView, ...] = ()  # parameters first
    outputs: dict[int, str] = field(default_factory=dict)  # cell index -> printed text
    output_truncated: bool = False
    cells_done: tuple[int, ...] = ()  # cells that ran to the end
    error: ErrorInfo | None = None
    hint: Text | None = None  # e.g. the divergence hint
    finished: bool = False  # every runnable cell ran
