"""Parameter updates, captured while lesson code runs and written out as plain data.

Two kinds of update change a lesson's parameters:

- `optimizer.step()` of a torch.optim optimizer. A pre and a post step hook
  (torch's global optimizer hooks, registered only while a run's lesson code
  executes and filtered to that run's thread, so optimizers made inside lesson
  functions are seen too, and concurrent runs in one process never mix) copy each
  parameter's first elements, its gradient and its state before, and its value
  after the step.
- A hand-written update (`W -= lr * gradient`, `W.data -= ...`,
  `with torch.no_grad(): W -= lr * W.grad`): instrument.py wraps such statements
  in two calls that hand this module the target before and after, and the
  operands of a product `a * b`.

Only the first UPDATE_ELEMENTS elements of each tensor are copied (the rules are
elementwise), so a step costs a few tiny copies per parameter. The description
(`UpdateView`) is built only when a state is published, from the records kept
here. Each optimizer's own rule is evaluated on those elements with the state
torch left in `optimizer.state`; if it does not reproduce torch's result (an
option the engine has no formula for, such as `maximize`), the update is
reported as "generic" (before, after, difference) rather than with a wrong
formula.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.optim import optimizer as _optim_mod

from tutor.engine.state import UPDATE_ELEMENTS, UpdateView

K = UPDATE_ELEMENTS
# State keys copied before a step (to write out how the step changed them).
_STATE_KEYS = ("momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "square_avg", "grad_avg")


def _grab(t: torch.Tensor) -> Any:
    """A copy of a tensor's first K elements, made cheaply while the lesson trains:
    `tolist()` of a small tensor (about 2 us; slicing first costs 4x more), the
    first K elements of a big one. `_as_head` turns either into the float64 tensor
    the rules are evaluated on, later and only when a state is published."""
    if t.numel() <= 64:
        return t.tolist()
    return t.detach().reshape(-1)[:K].tolist()


def _as_head(grabbed: Any) -> torch.Tensor:
    flat: list = []
    stack = [grabbed]
    while stack and len(flat) < K:  # depth first, in order: the first K elements
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            flat.append(item)
    return torch.tensor(flat, dtype=torch.float64)


def _floats(t: torch.Tensor | None) -> tuple[float, ...] | None:
    if t is None:
        return None
    return tuple(float(x) for x in t.tolist())


class _Grabbed:
    """A tensor operand of a hand-written update, grabbed (a number stays a number)."""

    __slots__ = ("data",)

    def __init__(self, data: Any) -> None:
        self.data = data


@dataclass
class _Record:
    """One update of one parameter, raw (tensors), described lazily."""

    param: torch.Tensor
    kind: str  # "optimizer" | "manual"
    before: Any  # _grab()bed values: see _as_head
    after: Any
    where: tuple[int | None, int | None, int | None]  # cell, iteration, line
    optimizer: str = ""
    group: dict[str, Any] = field(default_factory=dict)
    grad: Any = None
    state_before: dict[str, Any] = field(default_factory=dict)
    state_after: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    operator: str = "-"
    operands: tuple[str, ...] = ()
    operand_values: tuple[Any, ...] = ()


class UpdateRecorder:
    """Keeps the last update of every parameter of one run.

    `where()` is called (on the run's thread) to know the cell, iteration and line
    an update happens at. `install()`/`remove()` bracket the lesson code.
    """

    def __init__(self, where) -> None:
        self._where = where
        self._thread: int | None = None  # the ident of the run's thread (get_ident: a C call)
        self._handles: list[Any] = []
        self._pending: dict[int, list[tuple]] = {}  # id(optimizer) -> steps in progress
        self._manual: dict[int, tuple[torch.Tensor, torch.Tensor, tuple]] = {}  # line -> pre
        self.records: dict[int, tuple] = {}  # id(param) -> its last update, raw (see _record)
        self.version = 0  # bumped at every update: a publication rebuilds only when it moved
        self.optimizers: list[torch.optim.Optimizer] = []  # those that stepped, in order
        self._stepped: set = set()  # the same, for a quick "seen?" (optimizers hash by id)
        self._described: dict[int, tuple[tuple, str, UpdateView]] = {}  # id(param) -> (raw, name, view)
        # False while no one will see the updates being made (a free run between two
        # publications, a replay far from its target: the runner decides at each
        # iteration point): steps are then only counted as seen, not copied.
        self.armed = True

    # --- installation ----------------------------------------------------------

    def install(self) -> None:
        self._thread = threading.get_ident()
        self._handles = [
            _optim_mod.register_optimizer_step_pre_hook(self._pre_step),
            _optim_mod.register_optimizer_step_post_hook(self._post_step),
        ]

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # --- optimizer steps -------------------------------------------------------

    def _pre_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        # Hot path (every training step): plain tuples and tolist(), no dataclasses,
        # no grad-mode switches; the records are turned into views when published.
        if threading.get_ident() != self._thread:
            return
        if not self.armed:  # every training step: the least work possible
            if optimizer not in self._stepped:
                self._seen(optimizer)
            return
        try:
            steps = []
            opt_state = optimizer.state
            for gi, group in enumerate(optimizer.param_groups):
                for p in group["params"]:
                    grad = p.grad
                    if grad is None or p.numel() == 0:
                        continue
                    state = opt_state.get(p)
                    before_state = {}
                    if state:
                        for key in _STATE_KEYS:
                            value = state.get(key)
                            if isinstance(value, torch.Tensor) and value.numel():
                                before_state[key] = _grab(value)
                    steps.append((p, _grab(p), _grab(grad), before_state, gi))
            self._pending[id(optimizer)] = steps
        except Exception:  # never break the lesson's own step
            self._pending.pop(id(optimizer), None)

    def _post_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not self._pending or threading.get_ident() != self._thread:
            return
        steps = self._pending.pop(id(optimizer), None)
        if not steps:
            return
        try:
            where = self._where()
            groups = [dict(g) for g in optimizer.param_groups]  # its lr may change later
            kind = type(optimizer).__name__
            self._seen(optimizer)
            opt_state = optimizer.state
            records = self.records
            for p, before, grad, state_before, gi in steps:
                state = opt_state.get(p)
                after_state = {}
                if state:
                    for key, value in state.items():
                        if isinstance(value, torch.Tensor):
                            after_state[key] = _grab(value) if value.numel() > 1 or key != "step" else float(value)
                        elif isinstance(value, (int, float)):
                            after_state[key] = float(value)
                records[id(p)] = ("optimizer", p, before, _grab(p), where, kind, groups[gi],
                                  grad, state_before, after_state)
            self.version += 1
        except Exception:
            return

    def _seen(self, optimizer: torch.optim.Optimizer) -> None:
        if optimizer not in self._stepped:
            self._stepped.add(optimizer)
            self.optimizers.append(optimizer)

    # --- hand-written updates ----------------------------------------------------

    def manual_before(self, line: int, target: Any, operands: tuple[Any, ...]) -> None:
        """Before `target -= ...` (`target` is W for `W.data -= ...`): a tensor that
        requires grad, or any tensor updated by a product `a * b` (a hand-written
        gradient descent on a plain tensor); not sums such as `total += cost`."""
        if not self.armed or not isinstance(target, torch.Tensor) or target.numel() == 0:
            return
        if not operands and not target.requires_grad:
            return
        try:
            values = tuple(
                _Grabbed(_grab(v)) if isinstance(v, torch.Tensor) else v for v in operands
            )
            self._manual[line] = (target, _grab(target), values)
        except Exception:
            self._manual.pop(line, None)

    def manual_after(self, line: int, target: Any, source: str, operator: str, names: tuple[str, ...]) -> None:
        pre = self._manual.pop(line, None)
        if pre is None or not isinstance(target, torch.Tensor):
            return
        tensor, before, values = pre
        try:
            self.records[id(target)] = ("manual", target, before, _grab(target), self._where(),
                                        source, operator, names, values)
            self.version += 1
        except Exception:
            return

    # --- descriptions ------------------------------------------------------------

    def views(self, names: dict[int, str]) -> tuple[UpdateView, ...]:
        """The last update of every parameter the namespace still names (`names`:
        id -> display name, as the snapshot lists them), in that order. A parameter
        no name reaches any more (a lesson section that made a new `W`, a function
        that returned) is forgotten, with its record."""
        out: list[tuple[int, UpdateView]] = []
        order = {pid: i for i, pid in enumerate(names)}
        for pid in [pid for pid in self.records if pid not in names]:
            del self.records[pid]
            self._described.pop(pid, None)
        for pid, raw in self.records.items():  # the record holds its tensor: ids stay unique
            name = names[pid]
            known = self._described.get(pid)
            if known is not None and known[0] is raw and known[1] == name:
                view = known[2]
            else:
                view = describe(_record(raw), name)
                self._described[pid] = (raw, name, view)
            out.append((order[pid], view))
        out.sort(key=lambda item: item[0])
        return tuple(view for _, view in out)


def _record(raw: tuple) -> _Record:
    """A raw record (the tuple the hooks store) as a _Record."""
    if raw[0] == "optimizer":
        _, p, before, after, where, kind, group, grad, st0, st1 = raw
        return _Record(param=p, kind="optimizer", before=before, after=after, where=where,
                       optimizer=kind, group={k: v for k, v in group.items() if k != "params"},
                       grad=grad, state_before=st0, state_after=st1)
    _, p, before, after, where, source, operator, names, values = raw
    return _Record(param=p, kind="manual", before=before, after=after, where=where,
                   source=source, operator=operator, operands=names, operand_values=values)


# --- the rules ---------------------------------------------------------------------


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape:
        return False
    scale = float(b.abs().max()) if b.numel() else 0.0
    return bool(torch.allclose(a, b, rtol=1e-4, atol=1e-6 * max(1.0, scale), equal_nan=True))


def _num(value: Any) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _tensors(record: _Record) -> _Record:
    """The record with its grabbed values as float64 tensors of the first K elements."""
    def conv(value: Any) -> Any:
        return value if isinstance(value, float) else _as_head(value)

    return _Record(
        param=record.param, kind=record.kind, before=_as_head(record.before),
        after=_as_head(record.after), where=record.where, optimizer=record.optimizer,
        group=record.group, grad=None if record.grad is None else _as_head(record.grad),
        state_before={k: conv(v) for k, v in record.state_before.items()},
        state_after={k: conv(v) for k, v in record.state_after.items()},
        source=record.source, operator=record.operator, operands=record.operands,
        operand_values=tuple(_as_head(v.data) if isinstance(v, _Grabbed) else v
                             for v in record.operand_values),
    )


def describe(record: _Record, name: str) -> UpdateView:
    """The UpdateView of one record: its rule with its numbers, or "generic"."""
    record = _tensors(record)
    cell, iteration, line = record.where
    base = dict(
        name=name, optimizer=record.optimizer, shape=tuple(record.param.shape),
        numel=record.param.numel(), before=_floats(record.before), after=_floats(record.after),
        cell=cell, iteration=iteration, line=line,
    )
    if record.kind == "manual":
        return _manual(record, base)
    rule, terms = None, None
    try:
        found = _optimizer_rule(record)
    except Exception:
        found = None
    if found is not None:
        rule, terms, expected = found
        if not _close(expected, record.after):
            rule = None
    if rule is None:
        delta = record.before - record.after
        terms = [("lr", _num(record.group.get("lr"))), ("delta", delta)]
        rule = "generic"
    return UpdateView(rule=rule, terms=_plain_terms(terms), **base)


def _plain_terms(terms) -> tuple:
    out = []
    for key, value in terms:
        if isinstance(value, torch.Tensor):
            value = _floats(value) if value.dim() else float(value)
        elif isinstance(value, bool):
            value = float(value)
        out.append((key, value))
    return tuple(out)


def _optimizer_rule(record: _Record):
    """(rule, terms, expected after) for the optimizers with a known formula."""
    g = record.group
    if g.get("maximize") or g.get("differentiable"):
        return None
    lr = _num(g.get("lr"))
    if lr is None:
        return None
    p, grad = record.before, record.grad
    st, st0 = record.state_after, record.state_before
    wd = float(g.get("weight_decay") or 0.0)
    kind = record.optimizer
    if kind == "SGD":
        terms: list = [("lr", lr), ("grad", grad)]
        d = grad
        if wd:
            terms.append(("weight_decay", wd))
            d = d + wd * p
        momentum = float(g.get("momentum") or 0.0)
        if not momentum:
            return ("sgd", terms, p - lr * d)
        buf = st.get("momentum_buffer")
        if not isinstance(buf, torch.Tensor):
            return None
        dampening = float(g.get("dampening") or 0.0)
        buf0 = st0.get("momentum_buffer")
        terms += [("momentum", momentum), ("dampening", dampening), ("buf_before", buf0), ("buf", buf)]
        if g.get("nesterov"):
            return ("nesterov", terms, p - lr * (d + momentum * buf))
        return ("momentum", terms, p - lr * buf)
    if kind in ("Adam", "AdamW"):
        beta1, beta2 = (float(b) for b in g.get("betas", (0.9, 0.999)))
        eps = float(g.get("eps", 1e-8))
        step = _num(st.get("step"))
        m, v = st.get("exp_avg"), st.get("exp_avg_sq")
        if step is None or not isinstance(m, torch.Tensor) or not isinstance(v, torch.Tensor):
            return None
        decoupled = bool(g.get("decoupled_weight_decay", kind == "AdamW"))
        if g.get("amsgrad"):
            v = st.get("max_exp_avg_sq")
            if not isinstance(v, torch.Tensor):
                return None
        m_hat = m / (1 - beta1 ** step)
        v_hat = v / (1 - beta2 ** step)
        terms = [("lr", lr), ("grad", grad), ("beta1", beta1), ("beta2", beta2), ("eps", eps),
                 ("step", step), ("m_before", st0.get("exp_avg")), ("m", m),
                 ("v_before", st0.get("exp_avg_sq")), ("v", v), ("m_hat", m_hat), ("v_hat", v_hat)]
        start = p
        if wd and decoupled:
            terms.append(("weight_decay", wd))
            start = p * (1 - lr * wd)
            rule = "adamw"
        else:
            if wd:
                terms.append(("weight_decay", wd))
            rule = "adam"
        return (rule, terms, start - lr * m_hat / (v_hat.sqrt() + eps))
    if kind == "RMSprop":
        alpha = float(g.get("alpha", 0.99))
        eps = float(g.get("eps", 1e-8))
        v = st.get("square_avg")
        if not isinstance(v, torch.Tensor):
            return None
        d = grad + wd * p if wd else grad
        terms = [("lr", lr), ("grad", grad), ("alpha", alpha), ("eps", eps),
                 ("v_before", st0.get("square_avg")), ("v", v)]
        if wd:
            terms.append(("weight_decay", wd))
        if g.get("centered"):
            ga = st.get("grad_avg")
            if not isinstance(ga, torch.Tensor):
                return None
            terms.append(("grad_avg", ga))
            denom = (v - ga * ga).sqrt() + eps
        else:
            denom = v.sqrt() + eps
        momentum = float(g.get("momentum") or 0.0)
        if momentum:
            buf = st.get("momentum_buffer")
            if not isinstance(buf, torch.Tensor):
                return None
            terms += [("momentum", momentum), ("buf", buf)]
            return ("rmsprop", terms, p - lr * buf)
        return ("rmsprop", terms, p - lr * d / denom)
    return None


def _manual(record: _Record, base: dict) -> UpdateView:
    """`W -= a * b`: the operands' first elements (a scalar stays a number); any
    other right-hand side: its value, which is before − after (or after − before)."""
    sign = -1.0 if record.operator == "-" else 1.0
    values = record.operand_values
    if len(values) == 2:
        terms = []
        product = None
        ok = True
        for name, value in zip(record.operands, values):
            if isinstance(value, torch.Tensor):
                if value.numel() not in (1, min(K, record.param.numel())):
                    ok = False
                    break
                num = value  # a tensor stays one (a tuple in the view), a number a number
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                num = float(value)
            else:
                ok = False
                break
            terms.append((name, num))
            product = num if product is None else product * num
        if ok and product is not None:
            expected = record.before + sign * (product if isinstance(product, torch.Tensor)
                                               else torch.full_like(record.before, product))
            if _close(expected, record.after):
                return UpdateView(rule="manual", terms=_plain_terms(terms), source=record.source,
                                  operands=record.operands, operator=record.operator, **base)
    value = (record.after - record.before) * sign
    return UpdateView(rule="manual_expr", terms=_plain_terms([("value", value)]),
                      source=record.source, operator=record.operator, **base)
