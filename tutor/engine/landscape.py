"""The cost landscape of a steppable loop and the learner's path across it.

`LandscapeTracker` lives beside a run (the runner calls it at iteration points, at
loop ends and when it builds a `RunState`). It

- records the trainable parameters at the start of every iteration (the path);
- evaluates the lesson's own cost statements (the slice of landscape_plan.py) with
  the parameters replaced by grid values: under `torch.no_grad`, batched with
  `torch.func.vmap` (nn.Modules through `torch.func.functional_call`), one point
  at a time where vmap refuses the code (measured.md: `F.mse_loss` inside a nested
  vmap broke); a batched result is checked against one point evaluated alone;
- computes λmax of the Hessian (or of the Jacobian of a hand-written gradient) at
  the current point, for the critical learning rate 2/λmax.

It never touches the run: parameters are replaced in a shallow copy of the
namespace (modules through functional_call, which puts their own parameters back),
module buffers are given as copies (BatchNorm statistics stay the run's), every
autograd call keeps the graphs it walks (`retain_graph=True`) and fills no `.grad`,
and the RNG streams of torch, `random` and numpy are saved and restored around
every evaluation. The lesson's own functions the cost statements call (a `forward`
defined in a cell) run with their hooks idle (`quiet`, the runner's engine_code), so
the run's pause points do not depend on when a landscape was computed. Tests check
the run's events and pause points are identical with and without it.

Which parameters: the trainable tensors the cost slice reads (leaves with
requires_grad, tensors the loop updates by hand, parameters of modules it calls).
With 1 or 2 elements they are the axes; front matter `landscape: [W, b]` (or
elements like `model.linear.weight[0, 0]`) names them; with more, the axes are the
two principal directions of the path so far (PCA of θ_k − θ_now, Li et al. 2018,
"Visualizing the Loss Landscape of Neural Nets"), a slice through the current point.
"""

from __future__ import annotations

import math
import random
import sys
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from tutor.engine.landscape_plan import (
    IMPURE, NO_COST, NO_PARAMS, UNKNOWN_PARAM, LoopPlan, parse_axis_name, plan_loop,
)
from tutor.engine.lesson import Lesson
from tutor.engine.state import Landscape, LandscapeAxis

GRID_1D = 101  # points on the curve of one parameter
GRID_2D = (40, 20)  # points along the first and second axis of a heatmap
GRID_WORK = 20_000  # above this many parameters + data elements, grids shrink (grid_sizes)
MIN_INTERVAL = 0.2  # seconds between recomputations while running freely (5 Hz)
MARGIN = 0.25  # the range holds the path plus this share of its span on each side
SHOWN_PATH = 300  # points of the path a RunState carries (the first ones, then thinned)
SHOWN_HEAD = 100
MAX_PATH_NUMBERS = 1_000_000  # path floats kept (8 MB) before thinning the recorded path
CRITICAL_MAX_PARAMS = 1000  # Hessians of bigger models are not computed
FULL_HESSIAN = 64  # up to this many parameters: the whole Hessian, else power iteration
TUPLE_PARAMS = 4096  # up to this many elements the path is kept as tuples of floats
FEW_ROWS = 16  # a 2-D parameter with up to this many rows is read row by row (see _current_theta)
BATCH_NUMBERS = 2_000_000  # parameter floats per vmap batch
FAILED = "failed"  # no landscape: computing it raised (the run goes on untouched)
NOT_CRITICAL = "not-sgd"  # no critical lr: the loop does not train by plain gradient descent
TOO_BIG = "too-big"  # no critical lr: more than CRITICAL_MAX_PARAMS parameters


@contextmanager
def rng_kept():
    """Every RNG stream a lesson draws from is the same afterwards."""
    torch_state = torch.get_rng_state()
    py_state = random.getstate()
    numpy = sys.modules.get("numpy")
    np_state = numpy.random.get_state() if numpy is not None else None
    try:
        yield
    finally:
        torch.set_rng_state(torch_state)
        random.setstate(py_state)
        if np_state is not None:
            numpy.random.set_state(np_state)


@dataclass
class _Entry:
    """One trainable tensor: its display name, where it lives, where it sits in θ."""

    name: str  # `W`, `model.linear.weight`
    ns_name: str  # namespace name (the module's for module parameters)
    pname: str | None  # parameter name inside the module; None for a plain tensor
    tensor: torch.Tensor
    offset: int = 0

    @property
    def numel(self) -> int:
        return self.tensor.numel()


def find_params(ns: dict[str, Any], plan: LoopPlan) -> list[_Entry]:
    """The trainable tensors the cost slice reads, module parameters first."""
    hand = {u.param for u in plan.updates}
    modules: list[_Entry] = []
    plain: list[_Entry] = []
    seen: set[int] = set()
    for name in plan.reads:
        value = ns.get(name)
        if isinstance(value, nn.Module):
            for pname, param in value.named_parameters():
                if param.requires_grad and param.is_floating_point() and id(param) not in seen:
                    seen.add(id(param))
                    modules.append(_Entry(f"{name}.{pname}", name, pname, param))
        elif isinstance(value, torch.Tensor) and value.is_floating_point() and id(value) not in seen:
            if (value.is_leaf and value.requires_grad) or name in hand:
                seen.add(id(value))
                plain.append(_Entry(name, name, None, value))
    entries = modules + plain
    offset = 0
    for entry in entries:
        entry.offset = offset
        offset += entry.numel
    return entries


class _SliceModule(nn.Module):
    """Runs the cost slice with the lesson's modules as children, so that
    `functional_call` can put other values in their parameters for the call."""

    def __init__(self, modules: dict[str, nn.Module], code) -> None:
        super().__init__()
        for name, module in modules.items():
            self.add_module(name, module)
        self._slice_code = code

    def forward(self, local: dict[str, Any]) -> torch.Tensor:
        exec(self._slice_code, local)
        return _scalar(local["__tutor_cost__"])


def _scalar(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError("the cost is not one number")
        return value.reshape(())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value))
    raise TypeError("the cost is not a number")


def _split(theta: torch.Tensor, entries: list[_Entry]) -> dict[str, torch.Tensor]:
    return {
        e.name: theta[e.offset:e.offset + e.numel].reshape(e.tensor.shape).to(e.tensor.dtype)
        for e in entries
    }


def cost_function(plan: LoopPlan, ns: dict[str, Any], entries: list[_Entry], code=None) -> Callable:
    """f(θ) → the lesson's cost with the parameters set from the flat vector θ.
    `code` (default: the cost slice) may be another slice ending in `__tutor_cost__`."""
    code = plan.cost_code if code is None else code
    module_names = list(dict.fromkeys(e.ns_name for e in entries if e.pname is not None))
    plain = [e for e in entries if e.pname is None]
    if not module_names:
        def f(theta: torch.Tensor) -> torch.Tensor:
            local = dict(ns)
            pieces = _split(theta, plain)
            local.update(pieces)
            exec(code, local)
            return _scalar(local["__tutor_cost__"])
        return f

    wrapper = _SliceModule({n: ns[n] for n in module_names}, code)
    # Copies of the buffers: a forward in train mode (BatchNorm) updates them in place.
    buffers = {
        f"{n}.{b}": buf.detach().clone() for n in module_names for b, buf in ns[n].named_buffers()
    }

    def f(theta: torch.Tensor) -> torch.Tensor:
        pieces = _split(theta, entries)
        local = dict(ns)
        for e in plain:
            local[e.name] = pieces[e.name]
        params = {e.name: pieces[e.name] for e in entries if e.pname is not None}
        return torch.func.functional_call(wrapper, {**params, **buffers}, (local,), strict=False)
    return f


def evaluate(f: Callable, thetas: torch.Tensor) -> list[float]:
    """f at each row of `thetas`, batched with vmap where it works, else one by one.
    Non-finite and failing points are nan/inf (a failing point: nan)."""
    if thetas.shape[0] == 0:
        return []
    with torch.no_grad():
        batched = _batched(f, thetas)
        if batched is not None:
            return batched
        out = []
        for theta in thetas:
            try:
                out.append(float(f(theta)))
            except Exception:
                out.append(math.nan)
        return out


def _batched(f: Callable, thetas: torch.Tensor) -> list[float] | None:
    size = max(1, BATCH_NUMBERS // max(1, thetas.shape[1]))
    try:
        parts = [torch.func.vmap(f, randomness="error")(chunk) for chunk in thetas.split(size)]
        values = torch.cat([p.reshape(-1) for p in parts]).double().tolist()
        alone = float(f(thetas[0]))  # vmap can be wrong where code depends on shapes
    except Exception:
        return None
    if len(values) != thetas.shape[0]:
        return None
    first = values[0]
    if math.isfinite(alone) and math.isfinite(first):
        if abs(first - alone) > 1e-5 * max(1.0, abs(alone)):
            return None
    elif not (math.isnan(alone) and math.isnan(first)) and first != alone:
        return None
    return values


def gradient_at(f: Callable, theta: torch.Tensor) -> tuple[float, torch.Tensor] | None:
    """(cost, ∇cost) at θ; None when the cost is not differentiable there."""
    th = theta.detach().clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            cost = f(th)
            (grad,) = torch.autograd.grad(cost, th, retain_graph=True)
    except Exception:
        return None
    return float(cost.detach()), grad.detach()


def hessian_lambda_max(f: Callable, theta: torch.Tensor) -> float | None:
    """Largest eigenvalue of the Hessian of f at θ: the whole Hessian up to
    FULL_HESSIAN parameters (eigvalsh), else power iteration with Hessian-vector
    products (the largest in magnitude; fine for the convex costs of the lessons)."""
    n = theta.numel()
    th = theta.detach().clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(f(th), th, create_graph=True)
            if n <= FULL_HESSIAN:
                rows = []
                for i in range(n):
                    (row,) = torch.autograd.grad(grad[i], th, retain_graph=True, allow_unused=True)
                    rows.append(torch.zeros_like(th) if row is None else row)
                hessian = torch.stack(rows).double()
                hessian = (hessian + hessian.T) / 2
                return float(torch.linalg.eigvalsh(hessian).max())
            v = torch.ones_like(th) / math.sqrt(n)
            lam = 0.0
            for _ in range(200):
                (hv,) = torch.autograd.grad(grad @ v, th, retain_graph=True)
                new_lam = float(v @ hv)
                norm = float(hv.norm())
                if norm == 0 or not math.isfinite(norm):
                    return None
                v = (hv / norm).detach()
                if abs(new_lam - lam) <= 1e-7 * max(1.0, abs(new_lam)):
                    return new_lam
                lam = new_lam
            return lam
    except Exception:
        return None


def jacobian_lambda_max(g: Callable, theta: torch.Tensor) -> float | None:
    """Largest eigenvalue of ∂G/∂θ for a hand-written gradient G(θ) (the update is
    θ -= lr · G): real and positive, else None (no single critical lr)."""
    th = theta.detach().clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            out = g(th)
            rows = []
            for i in range(out.numel()):
                (row,) = torch.autograd.grad(out[i], th, retain_graph=True, allow_unused=True)
                rows.append(torch.zeros_like(th) if row is None else row)
    except Exception:
        return None
    jac = torch.stack(rows).double()
    if jac.shape[0] != jac.shape[1]:
        return None
    eig = torch.linalg.eigvals(jac)
    top = eig[eig.real.argmax()]
    if abs(float(top.imag)) > 1e-6 * max(1.0, abs(float(top.real))):
        return None
    return float(top.real)


def grad_function(plan: LoopPlan, ns: dict[str, Any], entries: list[_Entry]) -> Callable | None:
    """G(θ): the hand-written gradients of the update statements, flat, in θ's order."""
    if plan.grad_code is None:
        return None
    order = [u.param for u in plan.updates]
    if sorted(order) != sorted(e.name for e in entries) or len(set(order)) != len(order):
        return None
    code = plan.grad_code

    def g(theta: torch.Tensor) -> torch.Tensor:
        local = dict(ns)
        local.update(_split(theta, entries))
        exec(code, local)
        found = dict(zip(order, local["__tutor_g__"]))
        parts = []
        for e in entries:
            value = found[e.name]
            value = value if isinstance(value, torch.Tensor) else torch.tensor(float(value))
            parts.append(value.reshape(-1).expand(e.numel) if value.numel() == 1 else value.reshape(-1))
        return torch.cat(parts)
    return g


def critical_lambda(plan: LoopPlan, ns: dict[str, Any], entries: list[_Entry], f: Callable,
                    theta: torch.Tensor) -> tuple[float | None, str | None]:
    """(λ, None) where the loop trains by plain gradient descent, so the run
    diverges for lr > 2/λ near here; (None, reason) otherwise.

    torch.optim.SGD: one optimizer stepped in the body, holding every parameter of
    the cost, with momentum 0 (no nesterov, not maximize) and one weight decay wd
    (λ = λmax(H) + wd), and gradients cleared every iteration. Hand-written
    `P -= lr * P.grad` for every parameter: λmax(H). Hand-written `P -= lr * G`
    with the lesson's own G: λmax of ∂G/∂θ (the seed's gradient without 2/m)."""
    if theta.numel() > CRITICAL_MAX_PARAMS:
        return None, TOO_BIG
    if plan.steps:
        if len(plan.steps) != 1 or not plan.zero_grad:
            return None, NOT_CRITICAL
        opt = ns.get(plan.steps[0])
        if not isinstance(opt, torch.optim.SGD):
            return None, NOT_CRITICAL
        held = {id(p) for group in opt.param_groups for p in group["params"]}
        decays = set()
        for group in opt.param_groups:
            if group.get("momentum", 0) or group.get("nesterov") or group.get("maximize"):
                return None, NOT_CRITICAL
            decays.add(float(group.get("weight_decay", 0) or 0))
        if any(id(e.tensor) not in held for e in entries) or len(decays) != 1:
            return None, NOT_CRITICAL
        lam = hessian_lambda_max(f, theta)
        return (lam + decays.pop() if lam is not None else None), None
    names = {u.param for u in plan.updates}
    if not plan.updates or names != {e.name for e in entries} or any(e.pname for e in entries):
        return None, NOT_CRITICAL
    if all(u.grad_source is None for u in plan.updates):
        if not plan.zero_grad:
            return None, NOT_CRITICAL
        return hessian_lambda_max(f, theta), None
    if any(u.grad_source is None for u in plan.updates):
        return None, NOT_CRITICAL
    g = grad_function(plan, ns, entries)
    if g is None:
        return None, NOT_CRITICAL
    return jacobian_lambda_max(g, theta), None


@dataclass
class _AxisSpec:
    name: str
    offset: int | None = None  # element axis: the element's place in θ
    direction: torch.Tensor | None = None  # direction axis: a unit vector
    explained: float | None = None


def _element_name(entry: _Entry, flat: int) -> str:
    if entry.numel == 1:
        return entry.name
    index = []
    for size in reversed(entry.tensor.shape):
        index.append(flat % size)
        flat //= size
    return f"{entry.name}[{', '.join(str(i) for i in reversed(index))}]"


def named_axes(names: tuple[str, ...], entries: list[_Entry]) -> list[_AxisSpec] | None:
    """Front matter `landscape: [...]` → element axes; None if one is not found."""
    specs = []
    for text in names:
        parsed = parse_axis_name(text)
        if parsed is None:
            return None
        base, index = parsed
        entry = next((e for e in entries if e.name == base), None)
        if entry is None:
            return None
        shape = tuple(entry.tensor.shape)
        if index is None:
            if entry.numel != 1:
                return None
            flat = 0
        else:
            if len(index) != len(shape) or any(i >= s for i, s in zip(index, shape)):
                if not (entry.numel == 1 and all(i == 0 for i in index)):
                    return None
                index = (0,) * len(shape)
            flat = 0
            for i, s in zip(index, shape):
                flat = flat * s + i
        specs.append(_AxisSpec(name=text.strip(), offset=entry.offset + flat))
    return specs


def _unit(v: torch.Tensor) -> torch.Tensor | None:
    norm = float(v.norm())
    return v / norm if norm > 0 and math.isfinite(norm) else None


def principal_axes(path: torch.Tensor, center: torch.Tensor, grad: torch.Tensor | None) -> list[_AxisSpec]:
    """The two principal directions of θ_k − θ_now (unit vectors), with the share of
    the path's variance along each; where the path spans fewer than two directions,
    the gradient, then a coordinate axis, fill in (orthogonalised)."""
    d = center.numel()
    dirs: list[torch.Tensor] = []
    shares: list[float | None] = []
    diffs = path - center
    finite = torch.isfinite(diffs).all(dim=1)
    diffs = diffs[finite]
    if diffs.shape[0] >= 1 and float(diffs.abs().max()) > 0:
        _, s, vh = torch.linalg.svd(diffs, full_matrices=False)
        total = float((s ** 2).sum())
        for i in range(min(2, s.numel())):
            if float(s[i]) > 1e-9 * float(s[0]):
                v = vh[i]
                first = float(diffs[0] @ v)
                dirs.append(-v if first > 0 else v)  # the path runs from negative to 0
                shares.append(float(s[i] ** 2) / total if total > 0 else None)
    candidates = [grad] if grad is not None else []
    for i in range(min(d, 3)):
        axis = torch.zeros(d, dtype=center.dtype)
        axis[i] = 1.0
        candidates.append(axis)
    for cand in candidates:
        if len(dirs) >= 2:
            break
        v = cand.to(center.dtype).clone()
        for u in dirs:
            v = v - (v @ u) * u
        v = _unit(v)
        if v is not None and float(v.norm()) > 0.5:
            dirs.append(v)
            shares.append(None)
    return [_AxisSpec(name=f"PC{i + 1}", direction=dirs[i], explained=shares[i]) for i in range(len(dirs))]


def grid_sizes(axes: int, work: int) -> tuple[int, ...]:
    """GRID_1D or GRID_2D points, fewer for a big model: `work` is its parameters plus
    the elements of the tensors its cost reads (the data), and a grid holds about
    GRID_WORK / work of the full count (at least 21 points, or 10 x 5). Decided by
    sizes, not by timing, so the same lesson always gets the same grid."""
    scale = min(1.0, GRID_WORK / max(1, work))
    if axes == 1:
        return (max(21, round(GRID_1D * scale)),)
    side = max(0.25, math.sqrt(scale))
    return (max(10, round(GRID_2D[0] * side)), max(5, round(GRID_2D[1] * side)))


def _range(coords: list[float], current: float) -> tuple[float, float]:
    values = [c for c in coords if math.isfinite(c)] + ([current] if math.isfinite(current) else [])
    if not values:
        return -1.0, 1.0
    lo, hi = min(values), max(values)
    span = hi - lo
    if span <= 1e-12 * max(1.0, abs(lo), abs(hi)):
        half = max(abs(lo), 1.0) * 0.5
        return lo - half, hi + half
    return lo - MARGIN * span, hi + MARGIN * span


def _linspace(lo: float, hi: float, n: int) -> tuple[float, ...]:
    return tuple(float(v) for v in torch.linspace(lo, hi, n, dtype=torch.float64))


def _thin(n: int) -> list[int]:
    """Indexes of the path points shown: all up to SHOWN_PATH, else the first
    SHOWN_HEAD, then evenly spaced, always the last."""
    if n <= SHOWN_PATH:
        return list(range(n))
    rest = SHOWN_PATH - SHOWN_HEAD
    step = (n - 1 - SHOWN_HEAD) / (rest - 1)
    tail = sorted({SHOWN_HEAD + round(i * step) for i in range(rest)})
    return list(range(SHOWN_HEAD)) + tail


class LandscapeTracker:
    """Follows one run's steppable loops; see the module docstring."""

    def __init__(self, lesson: Lesson, quiet: Callable[[], Any] = nullcontext) -> None:
        self.lesson = lesson
        # entered around every evaluation: the runner's engine_code (the lesson's
        # functions the cost statements call then leave the run's pause points alone)
        self._quiet = quiet
        self._plans: dict[tuple[int, int], LoopPlan] = {}
        self.key: tuple[int, int] | None = None
        self.problem: str | None = None
        self.last: Landscape | None = None
        self._clear_loop()

    def _clear_loop(self) -> None:
        self.plan: LoopPlan | None = None
        self.entries: list[_Entry] = []
        self.ns: dict[str, Any] | None = None
        self.f: Callable | None = None
        self.path: list[tuple[float, ...] | torch.Tensor] = []
        self._stacked: torch.Tensor | None = None
        self._coords_key: tuple[int, ...] | None = None
        self._coords_cache: list[tuple[float, ...]] = []
        self.numel = 0
        self.work = 0
        self.path_costs: list[float] = []
        self.named: list[_AxisSpec] | None = None
        self.ranges: list[tuple[float, float]] | None = None
        self.grid: tuple | None = None
        self.axes: tuple[LandscapeAxis, ...] = ()
        self.specs: list[_AxisSpec] = []
        self.critical: float | None = None
        self.lam: float | None = None
        self.version = 0
        self.computed_at = -math.inf
        self.seconds = 0.0  # how long the last computation took
        self.computed_points = -1
        self.thinned_path = False

    # --- called by the runner --------------------------------------------------------

    def at_iteration(self, ns: dict[str, Any], cell: int, loop: int) -> None:
        """The start of an iteration of loop `loop` of cell `cell` (its index)."""
        if self.key != (cell, loop):
            self._start(ns, cell, loop)
        self._record()

    def at_loop_end(self) -> None:
        """The loop ended: its last point (after the last update) joins the path."""
        self._record()

    def _start(self, ns: dict[str, Any], cell: int, loop: int) -> None:
        self._clear_loop()
        self.key = (cell, loop)
        self.last = None
        self.problem = None
        plan = self._plans.get(self.key)
        if plan is None:
            try:
                plan = plan_loop(self.lesson.cells[cell].source, loop, cost_name=self.lesson.cost_name,
                                 lr_name=self.lesson.lr_name)
            except SyntaxError:
                plan = LoopPlan(cost_code=None, reads=(), problem=NO_COST)
            self._plans[self.key] = plan
        if plan.problem is not None:
            self.problem = plan.problem
            return
        entries = find_params(ns, plan)
        if not entries:
            self.problem = NO_PARAMS
            return
        wanted = tuple(getattr(self.lesson, "landscape", ()) or ())
        if wanted:
            self.named = named_axes(wanted, entries)
            if self.named is None:
                self.problem = UNKNOWN_PARAM
                return
        self.plan, self.entries, self.ns = plan, entries, ns
        self.numel = sum(e.numel for e in entries)
        data = [ns.get(name) for name in plan.reads]
        self.work = self.numel + sum(v.numel() for v in data if isinstance(v, torch.Tensor))
        self.f = cost_function(plan, ns, entries)

    def _current_theta(self) -> tuple[float, ...] | torch.Tensor | None:
        """The parameters now, flat: a tuple of floats for small models (tolist() is
        several times cheaper than building a tensor: this runs every iteration),
        a float64 tensor above TUPLE_PARAMS elements."""
        parts = []
        ns = self.ns
        for e in self.entries:
            t = e.tensor
            if e.pname is None:  # a plain name may be rebound (`W = W - lr * g`)
                now = ns.get(e.ns_name)
                if now is not t:
                    if not isinstance(now, torch.Tensor) or now.shape != t.shape:
                        return None
                    e.tensor = t = now
            parts.append(t)
        if self.numel <= TUPLE_PARAMS:
            flat: list[float] = []
            for t in parts:  # (no detach(): tolist() copies the numbers out)
                dim = t.dim()
                if dim == 0:
                    flat.append(t.item())
                elif dim == 1:
                    flat.extend(t.tolist())
                elif dim == 2 and t.shape[0] <= FEW_ROWS:
                    # a few rows (nn.Linear(3, 1).weight): their lists, without the
                    # reshape, which costs more than the numbers (2.4 -> 0.9 µs)
                    for row in t.tolist():
                        flat.extend(row)
                else:
                    flat.extend(t.reshape(-1).tolist())
            return tuple(flat)
        return torch.cat([t.detach().reshape(-1).to(torch.float64) for t in parts])

    def _record(self) -> None:
        if self.f is None:
            return
        theta = self._current_theta()
        if theta is None:
            self.problem = NO_PARAMS
            self.f = None
            return
        path = self.path
        path.append(theta)
        if len(path) * self.numel > MAX_PATH_NUMBERS and len(path) > 2 * SHOWN_HEAD:
            kept = path[:SHOWN_HEAD] + path[SHOWN_HEAD:-1:2] + path[-1:]  # halve the old part
            self.path[:] = kept
            self.path_costs = []
            self._stacked = None
            self._coords_key = None
            self.thinned_path = True

    def _path_tensor(self) -> torch.Tensor:
        """The path as an (n, d) float64 tensor; rows added since the last call only."""
        done = 0 if self._stacked is None else self._stacked.shape[0]
        new = self.path[done:]
        if new:
            rows = torch.tensor(new, dtype=torch.float64) if isinstance(new[0], tuple) else torch.stack(new)
            self._stacked = rows if self._stacked is None else torch.cat([self._stacked, rows])
        return self._stacked

    # --- the landscape -------------------------------------------------------------------

    def current(self, force: bool = True, full_path: bool = False) -> Landscape | None:
        """The landscape now (None with `problem` set when there is none). At most
        every MIN_INTERVAL seconds unless `force` (the run is paused or the loop ended)."""
        if self.f is None or not self.path:
            return None
        now = time.monotonic()
        if self.last is not None and not full_path:
            # a big model's grid takes long: it may use about a tenth of the run's time
            # while running freely, and at most half while stepping
            since = now - self.computed_at
            if not force and since < max(MIN_INTERVAL, 10 * self.seconds):
                return self.last
            if force and self.work > GRID_WORK and since < 2 * self.seconds:
                return self.last  # only big models: a small one is always exact when paused
        if self.last is not None and not full_path and self.computed_points == len(self.path) \
                and len(self.specs) and self.specs[0].direction is None and self._fixed_surface():
            return self.last
        with self._quiet(), rng_kept(), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # vmap's "performance drop" notes are not the lesson's
            try:
                result = self._compute(full_path)
            except Exception:  # an odd lesson must never break the run
                self.problem = FAILED
                return self.last
        self.problem = None
        self.computed_at = time.monotonic()
        self.seconds = self.computed_at - now
        self.computed_points = len(self.path)
        if not full_path:
            self.last = result
        return result

    def _fixed_surface(self) -> bool:
        """The surface depends on the axes alone (every parameter is an axis)."""
        return len(self.specs) == sum(e.numel for e in self.entries) and all(s.offset is not None for s in self.specs)

    def _compute(self, full_path: bool) -> Landscape:
        f = self.f
        stacked = self._path_tensor()
        center = stacked[-1]
        dtype = self.entries[0].tensor.dtype
        d = center.numel()
        grad_info = gradient_at(f, center.to(dtype))
        grad = grad_info[1].to(torch.float64) if grad_info is not None else None
        if self.named is not None:
            specs = self.named
        elif d <= 2:
            specs = []
            for e in self.entries:
                for i in range(e.numel):
                    specs.append(_AxisSpec(name=_element_name(e, i), offset=e.offset + i))
        else:
            specs = principal_axes(stacked, center, grad)
        path = stacked
        coords = [self._coords(spec, path, center) for spec in specs]
        current = [self._coords(spec, center.unsqueeze(0), center)[0] for spec in specs]
        fixed = all(s.offset is not None for s in specs) and len(specs) == d
        recompute = (self.grid is None or not fixed or len(specs) != len(self.specs)
                     or any(not (lo <= c <= hi) for (lo, hi), cs in zip(self.ranges, coords) for c in cs
                            if math.isfinite(c)))
        self.specs = specs
        if recompute:
            self.ranges = [_range(cs, cur) for cs, cur in zip(coords, current)]
            sizes = grid_sizes(len(specs), self.work)
            values = [_linspace(lo, hi, n) for (lo, hi), n in zip(self.ranges, sizes)]
            flat = []
            for thetas in self._grid_chunks(specs, values, center):  # big models: never all at once
                flat += evaluate(f, thetas.to(dtype))
            if len(specs) == 1:
                grid = tuple(flat)
            else:
                m = len(values[1])
                grid = tuple(tuple(flat[i * m:(i + 1) * m]) for i in range(len(values[0])))
            self.grid = grid
            self.axes = tuple(
                LandscapeAxis(name=s.name, values=v, direction=s.direction is not None, explained=s.explained)
                for s, v in zip(specs, values)
            )
            self.version += 1
            lam, _ = critical_lambda(self.plan, self.ns, self.entries, f, center.to(dtype))
            self.lam = lam
            self.critical = 2.0 / lam if lam is not None and lam > 0 and math.isfinite(lam) else None
        n = len(self.path)
        shown = list(range(n)) if full_path else _thin(n)
        if all(spec.offset is not None for spec in specs):
            # Element axes: a point's coordinates never change, so their tuples are made
            # once and shared by every RunState after (the runner keeps up to 512).
            offsets = tuple(spec.offset for spec in specs)
            if self._coords_key != offsets:
                self._coords_key, self._coords_cache = offsets, []
            cache = self._coords_cache
            for k in range(len(cache), n):
                point = self.path[k]
                if isinstance(point, tuple) and offsets == tuple(range(len(point))):
                    cache.append(point)
                else:
                    cache.append(tuple(cs[k] for cs in coords))
            path_coords = tuple(cache[k] for k in shown)
        else:
            path_coords = tuple(tuple(cs[k] for cs in coords) for k in shown)
        path_cost: tuple[float, ...] = ()
        if len(specs) == 1:
            missing = stacked[len(self.path_costs):]
            if missing.shape[0]:
                self.path_costs += evaluate(f, missing.to(dtype))
            path_cost = tuple(self.path_costs[k] for k in shown)
        gradient = None
        if grad is not None:
            gradient = tuple(
                float(grad[s.offset]) if s.offset is not None else float(grad @ s.direction) for s in specs
            )
        cell, loop = self.key
        return Landscape(
            cell=cell, loop=loop, axes=self.axes, cost=self.grid, path=path_coords,
            point=tuple(current), point_cost=grad_info[0] if grad_info is not None else None,
            gradient=gradient, path_cost=path_cost, critical_lr=self.critical, lam_max=self.lam,
            params=d, thinned=len(shown) < n or self.thinned_path, version=self.version,
        )

    @staticmethod
    def _coords(spec: _AxisSpec, points: torch.Tensor, center: torch.Tensor) -> list[float]:
        if spec.offset is not None:
            return points[:, spec.offset].tolist()
        return ((points - center) @ spec.direction).tolist()

    @classmethod
    def _grid_thetas(cls, specs: list[_AxisSpec], values: list[tuple[float, ...]], center: torch.Tensor) -> torch.Tensor:
        """Every grid point's θ as rows (row i*m + j: axes[0][i], axes[1][j])."""
        return torch.cat(list(cls._grid_chunks(specs, values, center)))

    @staticmethod
    def _grid_chunks(specs: list[_AxisSpec], values: list[tuple[float, ...]], center: torch.Tensor):
        """The grid points' θ, at most BATCH_NUMBERS numbers at a time (a 40x20 grid
        of a model with 80 000 parameters would be half a gigabyte at once)."""
        grids = torch.meshgrid(*[torch.tensor(v, dtype=torch.float64) for v in values], indexing="ij")
        cols = [g.reshape(-1) for g in grids]
        size = max(1, BATCH_NUMBERS // max(1, center.numel()))
        for start in range(0, cols[0].numel(), size):
            part = [col[start:start + size] for col in cols]
            thetas = center.repeat(part[0].numel(), 1)
            for spec, col in zip(specs, part):
                if spec.offset is not None:
                    thetas[:, spec.offset] = col
                else:
                    thetas += col.unsqueeze(1) * spec.direction.unsqueeze(0)
            yield thetas


__all__ = [
    "LandscapeTracker", "cost_function", "evaluate", "find_params", "hessian_lambda_max",
    "critical_lambda", "rng_kept", "IMPURE", "NO_COST", "NO_PARAMS", "UNKNOWN_PARAM",
]
