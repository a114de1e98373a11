"""What a runner shows the outside world: immutable snapshots of a run.

The runner's worker thread builds a new `RunState` at every pause (and every few
tens of milliseconds while running freely) and publishes it by replacing one
attribute. Readers (the app's refresh timer, tests, `tutor run`) take the current
object and render it without any lock: nothing in it is ever mutated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


SMALL_TENSOR = 64  # tensors with more elements are shown as stats, not values
INSPECT_LIMIT = 64 * 64  # the inspector gets a tensor whole up to this many elements
UPDATE_ELEMENTS = 4  # elements of a parameter written out in its update (then "…")

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
    # Faults of the kernel process (type "KernelDied", "KernelUnresponsive",
    # "MemoryLimit"): facts for the UI to word. `line` is the lesson line where known.
    exit_code: int | None = None  # the kernel exited with this code (os._exit(3))
    signal: int | None = None  # the kernel was ended by this signal (11: a segfault)
    limit: int | None = None  # MemoryLimit: the --kernel-memory size, bytes


@dataclass(frozen=True)
class UpdateView:
    """One parameter's last update with the numbers of its rule, as plain data.

    `rule` names the formula the numbers belong to (the UI writes it out):
    "sgd" (optionally with weight decay), "momentum", "nesterov", "adam", "adamw",
    "rmsprop", "manual" (a hand-written `W -= a * b`), "manual_expr" (a hand-written
    `W -= expr`, expr's value being `before - after`), and "generic" (an optimizer
    or option the engine has no formula for: only before, after and their
    difference). `before`, `after` and every tensor term hold the first
    UPDATE_ELEMENTS elements, flattened (`numel` says whether there are more).
    A rule's formula is only used when it reproduces torch's own result; otherwise
    the update is reported as "generic", so every number shown is torch's.
    """

    name: str
    rule: str
    optimizer: str  # "SGD", "Adam", ...; "" for a hand-written update
    shape: tuple[int, ...]
    numel: int
    before: tuple[float, ...]
    after: tuple[float, ...]
    # (symbol, value) in the rule's order: "lr", "grad", "momentum", "buf", ...;
    # a value is a float or a tuple of the first elements.
    terms: tuple[tuple[str, float | tuple[float, ...] | None], ...] = ()
    source: str = ""  # hand-written: the statement as written
    operands: tuple[str, ...] = ()  # hand-written `a * b`: ("lr", "gradient")
    operator: str = "-"  # hand-written: "-" for -=, "+" for +=
    cell: int | None = None
    iteration: int | None = None
    line: int | None = None

    def term(self, symbol: str, default=None):
        for key, value in self.terms:
            if key == symbol:
                return value
        return default


@dataclass(frozen=True)
class OptimizerView:
    """A torch.optim optimizer at a pause: its type, lr, options and state."""

    type: str  # class name: "SGD", "Adam", ...
    name: str  # name in the lesson namespace ("" when seen only through its step)
    lr: float | None  # param_groups[0]["lr"]
    options: tuple[tuple[str, object], ...] = ()  # momentum, betas, eps, weight_decay, ...
    # parameter name -> its state tensors ("momentum_buffer", "exp_avg", "step", ...)
    state: tuple[tuple[str, tuple[TensorView, ...]], ...] = ()

    def state_of(self, name: str) -> tuple[TensorView, ...]:
        for pname, views in self.state:
            if pname == name:
                return views
        return ()


@dataclass(frozen=True)
class InspectedTensor:
    """The tensor the inspector shows, whole (up to INSPECT_LIMIT elements).

    `view` has `value`, `grad` and `delta` as full nested lists when the tensor
    has at most INSPECT_LIMIT elements (else None, and `stats` only). `stats` and
    `grad_stats` are always given (mean, std, min, max; grad also "norm").
    `state` are the optimizer's state tensors for this parameter, whole too.
    `missing` is True when no tensor of that name exists at this pause.
    """

    name: str
    view: TensorView | None = None
    stats: dict[str, float] | None = None
    grad_stats: dict[str, float] | None = None
    grad_fn: str | None = None
    state: tuple[TensorView, ...] = ()
    optimizer: str = ""  # type of the optimizer holding it ("" when none)
    missing: bool = False


@dataclass(frozen=True)
class LandscapeAxis:
    """One axis of the landscape: a parameter element (`W`, `model.weight[0, 0]`) whose
    values are that element's own values, or a direction through parameter space
    (`direction=True`: PCA of the path, values are distances from the current point
    along a unit vector; `explained` is the share of the path's variance along it)."""

    name: str
    values: tuple[float, ...]
    direction: bool = False
    explained: float | None = None


@dataclass(frozen=True)
class Landscape:
    """The cost surface around the learner's path, computed from the lesson's own cost
    statements (engine/landscape.py). Plain data only: it travels to the app inside
    RunState.

    1 axis: `cost[i]` is the cost at `axes[0].values[i]`. 2 axes: `cost[i][j]` is the
    cost at (`axes[0].values[i]`, `axes[1].values[j]`). Non-finite costs stay nan/inf.
    `path[k]` are the coordinates of the parameters at the start of iteration k of
    this loop (the last point: where they are now), `path_cost[k]` the cost there
    (1 axis only); `thinned` says the path was thinned for display (the first 100
    points kept, then evenly spaced, always the last). `gradient` is d cost / d axis
    at `point`.
    `critical_lr` is 2/λmax where the loop trains by plain gradient descent (SGD
    without momentum or a hand-written `P -= lr * G`), else None.
    """

    cell: int
    loop: int
    axes: tuple[LandscapeAxis, ...]
    cost: tuple
    path: tuple[tuple[float, ...], ...]
    point: tuple[float, ...]
    point_cost: float | None
    gradient: tuple[float, ...] | None
    path_cost: tuple[float, ...] = ()
    critical_lr: float | None = None
    lam_max: float | None = None  # λmax behind critical_lr
    params: int = 0  # number of trainable elements behind the cost
    thinned: bool = False  # path has fewer points than iterations (display)
    version: int = 0  # grows when the grid (axes, cost) is recomputed


@dataclass(frozen=True)
class GraphEdge:
    """One edge of an autograd graph, from a node to one of its inputs, as the
    backward pass used it: `grad` is the gradient the node sent to that input
    (torch's own, captured by a hook), `local` the local derivative of the node's
    output with respect to that input (elementwise, or one number) when the op's
    rule states one (None for matrix products, views, ...)."""

    to: int  # GraphNode.id of the input
    grad: list | float | None = None
    local: list | float | None = None


@dataclass(frozen=True)
class GraphNode:
    """One grad_fn node of the autograd graph behind a `backward()` call.

    `op` is torch's name for it (`MulBackward0`, `AccumulateGrad` for a leaf);
    `name` the lesson's name for the tensor it produced (for a leaf: the tensor
    itself, e.g. `w` or `model.linear.weight`), None when none is bound. `value`
    and the gradients are nested lists (or a float for 0-d tensors) when the tensor
    has at most 64 elements, else None; `first` always holds its first values.
    `grad` is the gradient that reached the node; for a leaf its `.grad` after this
    backward, `arrived` what this backward added and `grad_before` what was there
    (None: no `.grad` yet). `module` is the nn.Module (dotted path) whose parameters
    the op uses directly, for collapsing a module's ops into one box."""

    id: int
    op: str
    name: str | None = None
    shape: tuple[int, ...] = ()
    value: list | float | None = None
    first: tuple[float, ...] = ()
    grad: list | float | None = None
    inputs: tuple[int, ...] = ()
    edges: tuple[GraphEdge, ...] = ()
    module: str | None = None
    arrived: list | float | None = None
    grad_before: list | float | None = None

    @property
    def is_leaf(self) -> bool:
        return self.op == "AccumulateGrad"


@dataclass(frozen=True)
class BackwardGraph:
    """The autograd graph of one `backward()` call, with what its real pass did.

    Node ids are positions in `nodes`, numbered depth first from the root (0), each
    node once however many paths lead to it (shared subgraphs). `order` is the ids
    in the order autograd ran the nodes (leaves included). `number` counts the
    backward() calls of the run (1 for the first); `cell`/`line`/`iteration` say
    where the call was made, so a view can say which backward it shows."""

    nodes: tuple[GraphNode, ...]
    order: tuple[int, ...]
    roots: tuple[int, ...] = (0,)
    cell: int | None = None
    line: int | None = None
    iteration: int | None = None
    number: int = 0
    modules: tuple[tuple[str, str], ...] = ()  # (module path, class name)


@dataclass(frozen=True)
class PlotSeries:
    """One artist of a matplotlib axes as data: `kind` is "line" (plt.plot),
    "scatter" (plt.scatter, or a line drawn with markers only) or "bar" (plt.bar,
    plt.hist: x is each bar's centre, y its height)."""

    kind: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    label: str | None = None


@dataclass(frozen=True)
class PlotAxes:
    """One axes (subplot) of a figure: its series or its image (plt.imshow, as rows
    of floats, grey levels), labels, and its place in the subplot grid (0-based)."""

    series: tuple[PlotSeries, ...] = ()
    image: tuple[tuple[float, ...], ...] | None = None
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    legend: bool = False
    row: int = 0
    col: int = 0
    xlog: bool = False
    ylog: bool = False


@dataclass(frozen=True)
class FigureView:
    """A figure the lesson showed (plt.show() or the end of its cell, as Jupyter
    does), read from its artists by engine/figures.py and drawn as text with plotext
    (`figures.render`). `problem`: it could not be read (a one-line note instead)."""

    number: int
    axes: tuple[PlotAxes, ...] = ()
    rows: int = 1
    cols: int = 1
    title: str = ""
    problem: str | None = None


@dataclass(frozen=True)
class Frame:
    """Where a run paused inside a function defined in the lesson (`train() ← cell 5`
    in the status line, worded by the UI): the function's qualified name, the line
    in it, and the cell and cell line that called it (None: not called from a cell's
    own code, e.g. by a library)."""

    function: str
    line: int | None
    call_cell: int | None
    call_line: int | None


@dataclass(frozen=True)
class UntilOutcome:
    """Where a run-until (`u`, `tutor run --until`) stopped, and why.

    `reason`: "met" (the first iteration meeting the condition), "reached" (the
    iteration of `500` / `@500`), "loop_end" (the loop ended first: `iteration` is its
    last), "end" (the lesson ended first, or had already ended). `iteration` and `cost`
    are the iteration that met it (or the last one run); for `grad > x`, `parameter`
    names the tensor whose grad norm `grad_norm` met it.
    """

    condition: str
    reason: Literal["met", "reached", "loop_end", "end"]
    cell: int | None = None
    iteration: int | None = None
    cost: float | None = None
    parameter: str | None = None
    grad_norm: float | None = None


@dataclass(frozen=True)
class Divergence:
    """A free run that diverged, and where it paused (see engine/divergence.py).

    `kind`: "nonfinite" (the cost of `iteration` is nan/inf) or "growth" (it is 10x the
    cost five iterations earlier). The run pauses after `last_finite`, the last
    iteration with a finite cost (-1: none). The growth began at iteration
    `growth_start`, whose iteration point is pause point `back_point` (`b` goes there).
    `parameter` is the tensor whose update grew fastest from `growth_start` to
    `last_finite`, by the factor `update_growth` (None when it could not be measured).
    """

    kind: Literal["nonfinite", "growth"]
    cell: int
    iteration: int
    cost: float
    last_finite: int
    growth_start: int
    back_point: int
    parameter: str | None = None
    update_growth: float | None = None


@dataclass(frozen=True)
class NonFiniteCost:
    """The cost became nan or inf: the learning rate is probably too large (the UI
    words it: ui/i18n.py `nonfinite_words`). `lr` is the lr in force; `critical_lr` is
    2/λmax (the number the landscape view shows) when it is known and `lr` is above it,
    else None."""

    lr: float | None = None
    critical_lr: float | None = None


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
    # cell index -> what it wrote to sys.stderr (warnings, logging, progress bars):
    # shown with its output, never compared with the lesson's expected text
    stderr: dict[int, str] = field(default_factory=dict)
    cells_done: tuple[int, ...] = ()  # cells that ran to the end
    error: ErrorInfo | None = None
    nonfinite: NonFiniteCost | None = None  # the cost became nan/inf
    finished: bool = False  # every runnable cell ran
    # The last update of each parameter (optimizer step or hand-written), in the
    # order the parameters were updated; see UpdateView.
    updates: tuple[UpdateView, ...] = ()
    optimizers: tuple[OptimizerView, ...] = ()  # torch.optim optimizers in the namespace
    inspected: InspectedTensor | None = None  # set by Runner.inspect(name)
    # The landscape of the current (or last) steppable loop when the runner tracks it
    # (Runner(landscape=True)); `landscape_problem` says why there is none (a key from
    # engine/landscape_plan.py: no-cost, impure, no-params, unknown-param, ...).
    landscape: Landscape | None = None
    landscape_problem: str | None = None
    backward: BackwardGraph | None = None  # the last backward() captured (autograd_graph.py)
    # At a pause: the graph of the tensor whose backward() the current line calls, else
    # (no backward() captured yet) of the cost; no gradients (autograd_graph.preview).
    graph_preview: BackwardGraph | None = None
    # Paused inside a function defined in the lesson (None: in a cell's own code).
    frame: Frame | None = None
    until: UntilOutcome | None = None  # why a run-until stopped here (until the next command)
    divergence: Divergence | None = None  # the run diverged and paused here
    # cell index -> the matplotlib figures it showed, in order (engine/figures.py)
    figures: dict[int, tuple[FigureView, ...]] = field(default_factory=dict)
