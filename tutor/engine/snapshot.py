"""Tensors in a lesson namespace → plain `TensorView` data.

The app renders snapshots from another thread while the worker keeps training, so
a snapshot holds only Python lists and floats, never live tensors. Which tensors:
every parameter of every `nn.Module` bound to a public name (named like
`model.linear.weight`), then every `torch.Tensor` bound to a public name; leaves
that require grad (the "parameters" of hand-written models, like `W` and `b`) come
right after the module parameters. A tensor reachable twice is shown once, under
its first name.

`Snapshotter` keeps a detached copy of each tensor shown at the previous pause so
that the next snapshot can say what changed (`changed`, `grad_changed`, `delta`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import nn

from tutor.engine.state import SMALL_TENSOR as SMALL
from tutor.engine.state import TensorView


def named_tensors(namespace: dict[str, Any], local: dict[str, Any] | None = None) -> list[tuple[str, torch.Tensor, bool]]:
    """(name, tensor, is_parameter) in display order: parameters first. With `local`
    (the locals of the lesson function the run is paused in), its tensors come first,
    then the namespace's, except those a local of the same name hides."""
    if local:
        first = named_tensors(local)
        seen_ids = {id(t) for _, t, _ in first}
        hidden = set(local)
        rest = [item for item in named_tensors(namespace)
                if id(item[1]) not in seen_ids and item[0].split(".", 1)[0] not in hidden]
        return first + rest
    params: list[tuple[str, torch.Tensor, bool]] = []
    leaves: list[tuple[str, torch.Tensor, bool]] = []
    others: list[tuple[str, torch.Tensor, bool]] = []
    seen: set[int] = set()
    for name, value in list(namespace.items()):
        if name.startswith("_"):
            continue
        if isinstance(value, nn.Module):
            try:
                named = list(value.named_parameters())
            except Exception:  # a half-built module must not break the snapshot
                continue
            for pname, param in named:
                if id(param) not in seen:
                    seen.add(id(param))
                    params.append((f"{name}.{pname}", param, True))
    for name, value in list(namespace.items()):
        if name.startswith("_") or not isinstance(value, torch.Tensor) or id(value) in seen:
            continue
        seen.add(id(value))
        if value.is_leaf and value.requires_grad:
            leaves.append((name, value, True))
        else:
            others.append((name, value, False))
    return params + leaves + others


def _stats(t: torch.Tensor) -> dict[str, float] | None:
    if t.is_complex():  # no min or max, and float64 would drop the imaginary part
        return None
    try:
        f = t.detach().to(torch.float64)
        if f.numel() == 0:
            return None
        return {
            "mean": float(f.mean()),
            "std": float(f.std()) if f.numel() > 1 else 0.0,
            "min": float(f.min()),
            "max": float(f.max()),
        }
    except Exception:
        return None


def grad_of(t: torch.Tensor) -> torch.Tensor | None:
    """`t.grad` where autograd fills it (leaves, or retain_grad()); None otherwise.
    (Reading `.grad` of other tensors only produces a warning.)"""
    if not (t.is_leaf or t.retains_grad):
        return None
    grad = t.grad
    return grad if isinstance(grad, torch.Tensor) else None


def _plain(t: torch.Tensor) -> list | float | int | bool:
    return t.detach().cpu().tolist()


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if torch.equal(a, b):
        return True
    if a.is_floating_point():  # nan == nan for "did it change?"
        return bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())
    return False


def view(
    name: str, t: torch.Tensor, is_parameter: bool,
    previous: tuple[torch.Tensor, torch.Tensor | None] | None = None, limit: int = SMALL,
) -> TensorView:
    """One tensor as a TensorView; `previous` is its (value, grad) at the last pause.
    Values are given up to `limit` elements (the table: 64; the inspector: 64×64)."""
    small = t.numel() <= limit
    grad = grad_of(t)
    value = _plain(t) if small else None
    stats = None if small else _stats(t)
    gval = gstats = None
    if grad is not None:
        if grad.numel() <= limit:
            gval = _plain(grad)
        else:
            gstats = _stats(grad)
    changed = grad_changed = False
    delta = None
    if previous is not None:
        pvalue, pgrad = previous
        changed = not _same(pvalue, t.detach())
        grad_changed = not _same(pgrad, None if grad is None else grad.detach())
        if small and pvalue.shape == t.shape and t.dtype.is_floating_point and pvalue.dtype == t.dtype:
            delta = _plain(t.detach() - pvalue)
    return TensorView(
        name=name,
        shape=tuple(t.shape),
        dtype=str(t.dtype).removeprefix("torch."),
        value=value,
        grad=gval,
        stats=stats,
        grad_stats=gstats,
        requires_grad=bool(t.requires_grad),
        is_parameter=is_parameter,
        changed=changed,
        grad_changed=grad_changed,
        delta=delta,
    )


class Snapshotter:
    """Takes snapshots and remembers the last one for `changed`/`delta`."""

    def __init__(self) -> None:
        self._previous: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        # The views of the last snapshot: an equal new view is replaced by the old
        # object, so the states the runner keeps share what did not change (the data,
        # unchanged parameters) instead of holding a copy each.
        self._views: dict[str, TensorView] = {}
        # The pause before the last one (the inspector asks for a tensor whole at
        # the pause it shows, after its snapshot was taken: its change since the
        # previous pause is measured against these).
        self._earlier: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        # name -> (stats, grad stats or values) of big tensors shown by another process (seed)
        self._previous_stats: dict[str, tuple[Any, Any]] = {}
        self.names: dict[int, str] = {}  # id(tensor) -> name at the last snapshot

    def forget(self) -> None:
        self._previous = {}
        self._views = {}
        self._earlier = {}
        self._previous_stats = {}
        self.names = {}

    def seed(self, shown: tuple[TensorView, ...]) -> None:
        """The last pause was shown by another process (a kernel resumed from a
        checkpoint replaces the one the learner saw): take its views as the previous
        snapshot, so "changed since" counts from what the learner saw. Small tensors
        come back whole from their values; a big one, whose view has statistics only,
        counts as changed when its mean, std, min or max differ."""
        previous: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        by_stats: dict[str, tuple[Any, Any]] = {}
        for v in shown:
            dtype = getattr(torch, v.dtype, None)
            if v.value is None or not isinstance(dtype, torch.dtype):
                by_stats[v.name] = (v.stats, v.grad_stats if v.grad is None else v.grad)
                continue
            try:
                value = torch.tensor(v.value, dtype=dtype).reshape(v.shape)
                grad = None if v.grad is None else torch.tensor(v.grad, dtype=dtype).reshape(v.shape)
            except (TypeError, ValueError, RuntimeError):
                continue
            previous[v.name] = (value, grad)
        self._previous, self._previous_stats, self._views, self._earlier = previous, by_stats, {}, {}

    def earlier(self, name: str) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """(value, grad) of `name` at the pause before the last snapshot's."""
        return self._earlier.get(name)

    def take(self, namespace: dict[str, Any], remember: bool = True,
             local: dict[str, Any] | None = None) -> tuple[TensorView, ...]:
        views = []
        current: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        shown: dict[str, TensorView] = {}
        names: dict[int, str] = {}
        with torch.no_grad():
            for name, t, is_param in named_tensors(namespace, local):
                names[id(t)] = name
                try:
                    made = view(name, t, is_param, self._previous.get(name))
                    seeded = self._previous_stats.get(name)
                    if seeded is not None and name not in self._previous:
                        grad_now = made.grad_stats if made.grad is None else made.grad
                        made = replace(made, changed=made.stats != seeded[0], grad_changed=grad_now != seeded[1])
                    old = self._views.get(name)
                    if old is not None and not made.changed and old == made:
                        made = old
                    views.append(made)
                    shown[name] = made
                    grad = grad_of(t)
                    current[name] = (t.detach().clone(), None if grad is None else grad.detach().clone())
                except Exception:  # sparse, meta, or otherwise odd tensors are skipped
                    continue
        if remember:
            self._earlier = self._previous
            self._previous = current
            self._previous_stats = {}
            self._views = shown
        self.names = names
        return tuple(views)


def plain_snapshot(namespace: dict[str, Any], local: dict[str, Any] | None = None) -> tuple[TensorView, ...]:
    """A snapshot with no memory of earlier pauses (JSONL iteration events)."""
    views = []
    with torch.no_grad():
        for name, t, is_param in named_tensors(namespace, local):
            try:
                views.append(view(name, t, is_param))
            except Exception:
                continue
    return tuple(views)
