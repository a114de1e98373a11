"""The language of the run-until field (`u`) and of `tutor run --until`.

One parser for both, so the app and the command line accept exactly the same text:

    500           run to iteration 500 of the current loop (0-based, as the status line)
    @500          jump there: forward by running, backward through goto (exact)
    cost < 0.01   run freely, pause after the first iteration whose cost is below 0.01
    cost > 5      ... above 5
    cost rises    ... whose cost is above the previous iteration's
    grad > 10     ... after which some parameter's gradient norm is above 10
    nan           ... whose cost is not a finite number

`loss` is accepted for `cost` (lessons name it either way); spaces are optional and
case does not matter. Numbers are ASCII decimals (`1e-3` too), finite. Anything else
is refused with an `UntilError` whose `reason` is one of the `Refusal` values: a fact
the UI words in both languages (the engine has no words of its own for it).

Conditions are checked when an iteration is recorded (its cost and grads known), by
`Condition.met` on plain numbers, so the runner and tests share one definition.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum
from typing import Literal

Kind = Literal["iteration", "jump", "cost_below", "cost_above", "cost_rises", "grad_above", "nan"]

MAX_ITERATION = 10**12  # far beyond any loop; keeps the number an ordinary int


class Refusal(str, Enum):
    """Why a text is not a condition (the UI has a message for each)."""

    EMPTY = "empty"
    UNKNOWN = "unknown"  # none of the forms above
    NUMBER = "number"  # a comparison whose right side is not a finite number
    ITERATION = "iteration"  # `500`/`@500` with a number that is not a whole count


class UntilError(ValueError):
    def __init__(self, reason: Refusal, text: str) -> None:
        super().__init__(f"{reason.value}: {text!r}")
        self.reason = reason
        self.text = text


@dataclass(frozen=True)
class Condition:
    """A parsed run-until text; `text` is the learner's own, normalised for display."""

    kind: Kind
    value: float | int | None = None
    text: str = ""

    @property
    def is_iteration(self) -> bool:
        """`500` and `@500`: a place in the current loop, not a test on numbers."""
        return self.kind in ("iteration", "jump")

    def met(self, cost: float | None, previous: float | None, grad_norm: float | None) -> bool:
        """Whether an iteration with this cost (the loop's previous one: `previous`)
        and largest parameter grad norm meets the condition. Iteration kinds: never
        (the runner stops at the point itself)."""
        kind = self.kind
        if kind == "nan":
            return cost is not None and not math.isfinite(cost)
        if kind == "cost_below":
            return cost is not None and cost < self.value
        if kind == "cost_above":
            return cost is not None and cost > self.value
        if kind == "cost_rises":
            return (cost is not None and previous is not None and math.isfinite(cost)
                    and math.isfinite(previous) and cost > previous)
        if kind == "grad_above":
            return grad_norm is not None and grad_norm > self.value
        return False


_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_COMPARE = re.compile(r"(cost|loss|grad)\s*([<>])\s*(\S.*)")
_ITERATION = re.compile(r"(@?)\s*(\S+)")


def parse_until(text: str) -> Condition:
    """The condition in `text`, or UntilError (see the module docstring)."""
    raw = " ".join(str(text).split())
    low = raw.lower()
    if not low:
        raise UntilError(Refusal.EMPTY, raw)
    if low == "nan":
        return Condition("nan", None, "nan")
    if re.fullmatch(r"(cost|loss)\s*rises", low):
        return Condition("cost_rises", None, "cost rises")
    compare = _COMPARE.fullmatch(low)
    if compare:
        name, op, number = compare.groups()
        if not re.fullmatch(_NUMBER, number.strip()):
            raise UntilError(Refusal.NUMBER, raw)
        value = float(number)
        if not math.isfinite(value):
            raise UntilError(Refusal.NUMBER, raw)
        if name == "grad":
            if op != ">":
                raise UntilError(Refusal.UNKNOWN, raw)
            return Condition("grad_above", value, f"grad > {number.strip()}")
        kind = "cost_below" if op == "<" else "cost_above"
        return Condition(kind, value, f"cost {op} {number.strip()}")
    place = _ITERATION.fullmatch(low)
    if place and (place.group(1) or re.fullmatch(r"[0-9+-.][0-9eE+-.]*", place.group(2))):
        jump, number = place.groups()
        if not re.fullmatch(r"[0-9]+", number) or int(number) > MAX_ITERATION:
            raise UntilError(Refusal.ITERATION, raw)
        value = int(number)
        return Condition("jump" if jump else "iteration", value, f"{jump}{value}")
    raise UntilError(Refusal.UNKNOWN, raw)
