"""Optimizer state and the inspected tensor, as plain data for a RunState.

The table shows every tensor briefly; the inspector shows one tensor whole, and
for a parameter the state its optimizer keeps (momentum_buffer; exp_avg,
exp_avg_sq, step; square_avg). Both are read here, on the worker (kernel)
thread, from the live namespace and `optimizer.state`, and leave as lists and
floats: the app never sees a tensor.
"""

from __future__ import annotations

from typing import Any, Iterable

import torch

from tutor.engine.snapshot import _stats, grad_of, named_tensors, view
from tutor.engine.state import INSPECT_LIMIT, SMALL_TENSOR, InspectedTensor, OptimizerView

# Options worth showing next to an optimizer's lr (those its rule uses).
_OPTIONS = ("momentum", "dampening", "nesterov", "betas", "eps", "weight_decay", "alpha", "centered", "amsgrad")


def optimizers_in(namespace: dict[str, Any], seen: Iterable[torch.optim.Optimizer] = ()) -> list[tuple[str, torch.optim.Optimizer]]:
    """(name, optimizer): those bound to public names, then others that stepped
    during the run (made inside a lesson function), named ""."""
    found: list[tuple[str, torch.optim.Optimizer]] = []
    ids: set[int] = set()
    for name, value in list(namespace.items()):
        if not name.startswith("_") and isinstance(value, torch.optim.Optimizer) and id(value) not in ids:
            ids.add(id(value))
            found.append((name, value))
    for opt in seen:
        if id(opt) not in ids:
            ids.add(id(opt))
            found.append(("", opt))
    return found


def _plain_option(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, tuple):
        return tuple(_plain_option(v) for v in value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def state_views(optimizer: torch.optim.Optimizer, param: torch.Tensor, limit: int = SMALL_TENSOR) -> tuple:
    """The optimizer's state tensors for one parameter, as TensorViews named by key."""
    state = optimizer.state.get(param)
    if not state:
        return ()
    out = []
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            out.append(view(str(key), value, False, limit=limit))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append(view(str(key), torch.tensor(float(value), dtype=torch.float64), False))
    return tuple(out)


def optimizer_views(optimizers: list[tuple[str, torch.optim.Optimizer]], names: dict[int, str]) -> tuple[OptimizerView, ...]:
    """Each optimizer with its lr, options and per-parameter state (the table's
    64-element limit: bigger state tensors give stats)."""
    views = []
    with torch.no_grad():
        for name, opt in optimizers:
            try:
                groups = opt.param_groups
                group = groups[0] if groups else {}
                lr = group.get("lr")
                lr = float(lr) if isinstance(lr, (int, float, torch.Tensor)) and not isinstance(lr, bool) else None
                options = tuple((k, _plain_option(group[k])) for k in _OPTIONS if k in group)
                state = []
                n = 0
                for g in groups:
                    for p in g["params"]:
                        pname = names.get(id(p)) or f"param[{n}]"
                        n += 1
                        tensors = state_views(opt, p)
                        if tensors:
                            state.append((pname, tensors))
                views.append(OptimizerView(type=type(opt).__name__, name=name, lr=lr,
                                           options=options, state=tuple(state)))
            except Exception:  # a half-built optimizer must not break the state
                continue
    return tuple(views)


def _grad_stats(grad: torch.Tensor | None) -> dict[str, float] | None:
    if grad is None:
        return None
    stats = _stats(grad)
    if stats is not None:
        stats["norm"] = float(grad.detach().to(torch.float64).norm())
    return stats


def inspect(
    namespace: dict[str, Any], name: str,
    previous: tuple[torch.Tensor, torch.Tensor | None] | None,
    optimizers: list[tuple[str, torch.optim.Optimizer]],
) -> InspectedTensor:
    """The tensor `name` whole (value, grad, change since `previous`), its stats,
    grad_fn and, for a parameter, its optimizer's state tensors whole."""
    found = None
    for tname, t, is_param in named_tensors(namespace):
        if tname == name:
            found = (t, is_param)
            break
    if found is None:
        return InspectedTensor(name=name, missing=True)
    t, is_param = found
    with torch.no_grad():
        tv = view(name, t, is_param, previous, limit=INSPECT_LIMIT)
        grad = grad_of(t)
        grad_fn = type(t.grad_fn).__name__ if t.grad_fn is not None else None
        state: tuple = ()
        kind = ""
        for _, opt in optimizers:
            if t in opt.state:
                state = state_views(opt, t, limit=INSPECT_LIMIT)
                kind = type(opt).__name__
                break
        return InspectedTensor(
            name=name, view=tv, stats=_stats(t), grad_stats=_grad_stats(grad),
            grad_fn=grad_fn, state=state, optimizer=kind,
        )
