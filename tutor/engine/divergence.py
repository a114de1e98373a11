"""Divergence: when a free run's cost blows up, where to pause and what to blame.

A run diverges when an iteration's cost is not finite, or is GROWTH times the cost
WINDOW iterations earlier. The runner then pauses after the last iteration with a
finite cost, and offers to go back to where the growth began: the first iteration of
the run of rising costs that ends there (its update is the first that made the cost
grow, so a smaller lr from there on changes the outcome). The parameter to name is
the one whose update (the norm of its change over one iteration) grew fastest from
there to the pause.

The decisions are pure functions on plain numbers (tested on their own); only
`parameter_copies` and `fastest_update` touch tensors, during the replay that the
runner makes to the pause point (free runs themselves pay nothing for this).
"""

from __future__ import annotations

import math
from typing import Any

GROWTH = 10.0
WINDOW = 5


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def detect(costs: list[float | None], i: int) -> str | None:
    """"nonfinite", "growth" or None for iteration i of a loop whose costs so far
    (indexed by iteration, None where the loop had no cost) are `costs`."""
    cost = costs[i]
    if cost is None:
        return None
    if not math.isfinite(cost):  # turns non-finite: after a finite cost, or at once
        return "nonfinite" if i == 0 or _finite(costs[i - 1]) else None
    if i >= WINDOW:
        before = costs[i - WINDOW]
        if _finite(before) and before > 0 and cost >= GROWTH * before:
            return "growth"
    return None


def last_finite(kind: str, i: int) -> int:
    """The last iteration with a finite cost when iteration i diverged as `kind`."""
    return i - 1 if kind == "nonfinite" else i


def growth_start(costs: list[float | None], last: int) -> int:
    """The first iteration of the run of strictly rising finite costs ending at `last`
    (0 when `last` < 0)."""
    j = last
    while j > 0 and _finite(costs[j - 1]) and _finite(costs[j]) and costs[j - 1] < costs[j]:
        j -= 1
    return max(j, 0)


def parameter_copies(namespace: dict[str, Any]) -> dict[str, Any]:
    """The parameters in a lesson namespace (as the tensor table names them), copied."""
    from tutor.engine.snapshot import named_tensors

    return {name: t.detach().clone() for name, t, is_param in named_tensors(namespace) if is_param}


def fastest_update(copies: list[dict[str, Any]]) -> tuple[str | None, float | None]:
    """The parameter whose update grew fastest over consecutive iteration points'
    `copies` (at least three: two updates), and by what factor (last update's norm
    over the first's; inf when the first was zero or the last not finite)."""
    if len(copies) < 3:
        return None, None
    best: tuple[float, float, str] | None = None
    for name in copies[0]:
        if not all(name in c and c[name].shape == copies[0][name].shape for c in copies):
            continue
        first = float((copies[1][name].double() - copies[0][name].double()).norm())
        last = float((copies[-1][name].double() - copies[-2][name].double()).norm())
        if not math.isfinite(last):
            ratio, last = math.inf, math.inf
        elif first == 0:
            ratio = math.inf if last > 0 else 1.0
        else:
            ratio = last / first
        key = (ratio, last, name)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return None, None
    return best[2], best[0]
