"""Runner events → JSON lines, as `tutor run --jsonl` prints them (design §3).

One object per line, each with `"event"`. JSON has no NaN or infinity, and a
diverging run is exactly when a lesson produces them, so non-finite floats (a cost,
a tensor value) are written as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`
(what `float()` in Python and `Number()` in JavaScript read back), and values JSON
cannot hold at all (complex tensor elements) as their `str()`; every line is valid
JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tutor.engine import events as ev
from tutor.engine.state import SMALL_TENSOR, OptimizerView, TensorView, UntilOutcome


def _finite(value: Any) -> Any:
    """Replace non-finite floats (also inside nested lists) by their string names."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def tensor_dict(view: TensorView) -> dict[str, Any]:
    """{"shape", "value" | "stats", "grad"} for one tensor (+ "grad_stats" when big)."""
    out: dict[str, Any] = {"shape": list(view.shape)}
    if _numel(view.shape) > SMALL_TENSOR:
        out["stats"] = view.stats
    else:
        out["value"] = view.value
    out["grad"] = view.grad
    if view.grad_stats is not None:
        out["grad_stats"] = view.grad_stats
    return out


def optimizer_dict(opt: OptimizerView) -> dict[str, Any]:
    """{"type", "lr", "options", "state": {NAME: {KEY: value}}} for one optimizer
    (design §8): a state tensor of at most 64 elements as its nested list (`step`
    as a number), a bigger one as {"shape", "stats"}, like the tensors."""
    state: dict[str, Any] = {}
    for pname, views in opt.state:
        entry: dict[str, Any] = {}
        for v in views:
            if v.value is not None:
                entry[v.name] = v.value
            else:
                entry[v.name] = {"shape": list(v.shape), "stats": v.stats}
        state[pname] = entry
    options = {k: list(v) if isinstance(v, tuple) else v for k, v in opt.options}
    return {"type": opt.type, "lr": opt.lr, "options": options, "state": state}


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def backward_dict(event: ev.Backward) -> dict[str, Any]:
    """{"event": "backward", "cell", "line", "nodes", "order"} (design §8): per node
    its id, torch's op name, the lesson's name (or null), input ids, value and the
    gradient that reached it (a leaf: its .grad after this backward), plus shape."""
    nodes = [
        {
            "id": n.id, "op": n.op, "name": n.name, "inputs": list(n.inputs),
            "shape": list(n.shape), "value": n.value, "grad": n.grad,
        }
        for n in event.graph.nodes
    ]
    return {
        "event": "backward", "cell": event.cell, "line": event.line,
        "nodes": nodes, "order": list(event.graph.order),
    }


def event_dict(event: ev.Event) -> dict[str, Any]:
    if isinstance(event, ev.CellStarted):
        return {"event": "cell", "cell": event.cell, "line": event.line}
    if isinstance(event, ev.Output):
        if event.stream != "stdout":
            return {"event": "output", "cell": event.cell, "text": event.text, "stream": event.stream}
        return {"event": "output", "cell": event.cell, "text": event.text}
    if isinstance(event, ev.Iteration):
        tensors = {t.name: tensor_dict(t) for t in event.tensors or ()}
        out = {
            "event": "iteration", "cell": event.cell, "iteration": event.iteration,
            "lr": event.lr, "cost": event.cost, "tensors": tensors,
        }
        if event.optimizer is not None:
            out["optimizer"] = optimizer_dict(event.optimizer)
        return out
    if isinstance(event, ev.Error):
        return {"event": "error", "cell": event.cell, "line": event.line, "type": event.type, "message": event.message}
    if isinstance(event, ev.LandscapeEvent):
        return landscape_dict(event)
    if isinstance(event, ev.Backward):
        return backward_dict(event)
    if isinstance(event, ev.Done):
        return {"event": "done", "seconds": round(event.seconds, 6)}
    if isinstance(event, ev.FigureShown):
        from tutor.engine.figures import render

        return {"event": "figure", "cell": event.cell, "number": event.figure.number,
                "text": render(event.figure)}
    raise TypeError(f"not a runner event: {event!r}")


def landscape_dict(event: ev.LandscapeEvent) -> dict[str, Any]:
    """design §8: axes (name, values), cost ([i] for one axis, [i][j] at
    (axes[0][i], axes[1][j]) for two), path (coordinates per iteration start, then
    the final point), critical_lr; plus the current point and gradient."""
    land = event.landscape
    cost = list(land.cost) if len(land.axes) == 1 else [list(row) for row in land.cost]
    axes = []
    for axis in land.axes:
        item: dict[str, Any] = {"name": axis.name, "values": list(axis.values)}
        if axis.direction:
            item["direction"] = True
            item["explained"] = axis.explained
        axes.append(item)
    return {
        "event": "landscape", "cell": event.cell, "iteration": event.iteration, "axes": axes,
        "cost": cost, "path": [list(p) for p in land.path], "critical_lr": land.critical_lr,
        "point": list(land.point), "gradient": None if land.gradient is None else list(land.gradient),
    }


def dumps(event: ev.Event) -> str:
    """One event as one line of JSON (no trailing newline)."""
    data = event_dict(event)
    try:
        return json.dumps(data, ensure_ascii=False, allow_nan=False, default=str)
    except ValueError:  # a nan/inf somewhere: spell it out (rare, so not done up front)
        return json.dumps(_finite(data), ensure_ascii=False, allow_nan=False, default=str)


def until_dumps(outcome: UntilOutcome) -> str:
    """`tutor run --jsonl --until`'s last line: where the run stopped, and why."""
    data = {"event": "until", "condition": outcome.condition, "reason": outcome.reason,
            "cell": outcome.cell, "iteration": outcome.iteration, "cost": outcome.cost}
    if outcome.parameter is not None:
        data["parameter"], data["grad_norm"] = outcome.parameter, outcome.grad_norm
    return json.dumps(_finite(data), ensure_ascii=False, allow_nan=False)


def format_number(value: float | None) -> str:
    """A cost or norm for a line of text: 6 significant digits, nan/inf as such."""
    if value is None:
        return "-"
    return f"{value:.6g}"
