"""Stepping a captured backward pass node by node, as plain data (no torch).

`B` replays what `autograd_graph.capture` recorded during the real backward: it
never runs a second one. A pass of n nodes has steps 0..n-1, one per node in the
order autograd ran them (`BackwardGraph.order`); each says which gradient arrived
there and, for an op, what it sent to each input (with the local rule's numbers
where the op has one), for a leaf how its `.grad` filled. Step n is the end: every
leaf's `.grad` is what the pass left. Also here: whether a lesson line is a
`backward()` call, so `B` there first runs the call (capturing it), then steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tutor.engine.lesson import Lesson
from tutor.engine.state import BackwardGraph, GraphEdge, GraphNode

_CALL = re.compile(r"(\.backward\s*\(|\bautograd\.backward\s*\()")


def is_backward_line(source_line: str) -> bool:
    """Does this line of code call backward() (`cost.backward()`,
    `torch.autograd.backward(...)`)? Comments do not count."""
    code = source_line.split("#", 1)[0]
    return bool(_CALL.search(code))


_RECEIVER = re.compile(r"([A-Za-z_][\w.]*)\s*\.backward\s*\(")


def backward_receiver(source_line: str) -> str | None:
    """`cost` in `cost.backward()` (`self.loss` in `self.loss.backward()`): the
    name whose backward() the line calls, None when it is not a plain name."""
    found = _RECEIVER.search(source_line.split("#", 1)[0])
    return found.group(1) if found else None


def line_text(lesson: Lesson, cell: int | None, line: int | None) -> str:
    """The source text of lesson-file line `line` ("" if none), looked up in cell
    `cell` first, else in any cell (paused inside a function another cell defined)."""
    if line is None:
        return ""
    cells = list(lesson.cells)
    if cell is not None and 0 <= cell < len(cells):
        cells.insert(0, cells[cell])
    for c in cells:
        lines = c.source.splitlines()
        i = line - c.line
        if 0 <= i < len(lines):
            return lines[i]
    return ""


@dataclass(frozen=True)
class Step:
    """Step `index` of `total`: `node` is where the pass is; `edges` what it sent
    on (an op), `node.grad_before` / `node.arrived` / `node.grad` how a leaf's
    `.grad` filled. `done` nodes have run (their gradients may be shown)."""

    index: int
    total: int
    node: GraphNode
    edges: tuple[GraphEdge, ...]
    done: frozenset[int]


def step_count(graph: BackwardGraph) -> int:
    return len(graph.order)


def step_at(graph: BackwardGraph, index: int) -> Step | None:
    """Step `index` (0-based) of the pass; None at or past the end."""
    if not 0 <= index < len(graph.order):
        return None
    node = graph.nodes[graph.order[index]]
    return Step(
        index=index, total=len(graph.order), node=node, edges=node.edges,
        done=frozenset(graph.order[: index + 1]),
    )


def next_step(graph: BackwardGraph | None, current: int | None) -> int | None:
    """The step `B` goes to from `current` (None: not stepping): 0, 1, ..., n (the
    end, every leaf filled), then None (stepping over, the whole graph again)."""
    if graph is None or not graph.order:
        return None
    if current is None:
        return 0
    if current >= len(graph.order):
        return None
    return current + 1


def label(graph: BackwardGraph, node_id: int) -> str:
    """How a node is called in a rule: the lesson's name, else `#id`."""
    node = graph.nodes[node_id]
    return node.name or f"#{node.id}"


def graph_key(graph: BackwardGraph | None) -> tuple | None:
    """Which backward() call a graph is (equal for the same call seen again in a
    later state, also when the state came pickled from the kernel)."""
    if graph is None:
        return None
    return (graph.number, graph.cell, graph.line, graph.iteration)


class BackwardStepper:
    """What `B` does, as plain state the lesson screen keeps (no textual, no torch).

    At a paused `backward()` line, `B` first runs that statement (the caller steps
    the runner: the kernel captures the call), and stepping starts at node 0 when
    the state with the new graph arrives. Elsewhere `B` steps the last captured
    pass: node 0, 1, ..., the end, then the whole graph again. Stepping stops by
    itself when the graph shown changes (the learner ran on).
    """

    def __init__(self) -> None:
        self.step: int | None = None
        self._key: tuple | None = None  # the graph being stepped
        self._waiting: tuple[int, tuple | None] | None = None  # (pause index, graph key) at B

    @property
    def waiting(self) -> bool:
        return self._waiting is not None

    def press(self, lesson: Lesson, state) -> str:
        """`B` pressed: "run" (step the runner one statement, then watch), "step"
        (self.step moved), or "nothing" (no pass to step)."""
        graph = state.backward
        if self._waiting is not None:
            return "step"  # the call is still running: its pass is stepped when it arrives
        at_call = state.status == "paused" and is_backward_line(line_text(lesson, state.cell, state.line))
        if at_call and (self.step is None or graph_key(graph) != self._key):
            self._waiting = (state.pause_index, graph_key(graph))
            self.step = None
            return "run"
        if graph is None or not graph.order:
            return "nothing"
        if graph_key(graph) != self._key:
            self.step = None
        self._key = graph_key(graph)
        self.step = next_step(graph, self.step)
        return "step"

    def shown(self, state) -> BackwardGraph | None:
        """The graph the view shows: the pass being stepped; else the tensor whose
        backward() is about to run (or the cost before any backward); else the
        last pass captured."""
        if self.step is not None or self._waiting is not None:
            return state.backward
        return state.graph_preview or state.backward

    def observe(self, state) -> None:
        """A new state is shown: start stepping the call B ran, or stop stepping a
        graph that is no longer the one shown."""
        key = graph_key(state.backward)
        if self._waiting is not None:
            point, before = self._waiting
            if state.status == "running" or state.pause_index == point:
                return  # the statement has not finished yet
            self._waiting = None
            if key is not None and key != before:
                self._key, self.step = key, 0
                return
        if self.step is not None and key != self._key:
            self.step = None
