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


def _head(t: torch.Tensor) -> torch.Tensor:
    """The first K elements, flattened, as a detached copy (float64 for the rule)."""
    return t.detach().reshape(-1)[:K].to(torch.float64)


def _floats(t: torch.Tensor | None) -> tuple[float, ...] | None:
    if t is None:
        return None
    return tuple(float(x) for x in t.tolist())


@dataclass
class _ParamStep:
    param: torch.Tensor
    before: torch.Tensor
    grad: torch.Tensor
    state_before: dict[str, torch.Tensor]
    after: torch.Tensor | None = None
    state_after: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Record:
    """One update of one parameter, raw (tensors), described lazily."""

    param: torch.Tensor
    kind: str  # "optimizer" | "manual"
    before: torch.Tensor
    after: torch.Tensor
    where: tuple[int | None, int | None, int | None]  # cell, iteration, line
    optimizer: str = ""
    group: dict[str, Any] = field(default_factory=dict)
    grad: torch.Tensor | None = None
    state_before: dict[str, torch.Tensor] = field(default_factory=dict)
    state_after: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    operator: str = "-"
    operands: tuple[str, ...] = ()
    operand_values: tuple[Any, ...] = ()
    described: dict[str, UpdateView] = field(default_factory=dict)  # name -> view


class UpdateRecorder:
    """Keeps the last update of every parameter of one run.

    `where()` is called (on the run's thread) to know the cell, iteration and line
    an update happens at. `install()`/`remove()` bracket the lesson code.
    """

    def __init__(self, where) -> None:
        self._where = where
        self._thread: threading.Thread | None = None
        self._handles: list[Any] = []
        self._pending: dict[int, list[_ParamStep]] = {}  # id(optimizer) -> steps in progress
        self._manual: dict[int, tuple[torch.Tensor, torch.Tensor, tuple]] = {}  # line -> pre
        self.records: dict[int, _Record] = {}  # id(param) -> its last update
        self.version = 0  # bumped at every update: a publication rebuilds only when it moved
        self.optimizers: list[torch.optim.Optimizer] = []  # those that stepped, in order

    # --- installation ----------------------------------------------------------

    def install(self) -> None:
        self._thread = threading.current_thread()
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
        if threading.current_thread() is not self._thread:
            return
        try:
            steps = []
            with torch.no_grad():
                for group in optimizer.param_groups:
                    for p in group["params"]:
                        if not isinstance(p, torch.Tensor) or p.grad is None or p.numel() == 0:
                            continue
                        state = optimizer.state.get(p, {})
                        before_state = {
                            key: _head(state[key]) for key in _STATE_KEYS
                            if isinstance(state.get(key), torch.Tensor) and state[key].numel()
                        }
                        steps.append(_ParamStep(p, _head(p), _head(p.grad), before_state))
            self._pending[id(optimizer)] = steps
        except Exception:  # never break the lesson's own step
            self._pending.pop(id(optimizer), None)

    def _post_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if threading.current_thread() is not self._thread:
            return
        steps = self._pending.pop(id(optimizer), None)
        if not steps:
            return
        try:
            where = self._where()
            groups = {id(p): g for g in optimizer.param_groups for p in g["params"]}
            kind = type(optimizer).__name__
            if not any(o is optimizer for o in self.optimizers):
                self.optimizers.append(optimizer)
            with torch.no_grad():
                for s in steps:
                    state = optimizer.state.get(s.param, {})
                    after_state = {}
                    for key, value in state.items():
                        if isinstance(value, torch.Tensor):
                            after_state[key] = _head(value) if value.numel() > 1 or key != "step" else float(value)
                        elif isinstance(value, (int, float)):
                            after_state[key] = float(value)
                    group = groups.get(id(s.param), {})
                    self.records[id(s.param)] = _Record(
                        param=s.param, kind="optimizer", before=s.before, after=_head(s.param),
                        where=where, optimizer=kind,
                        group={k: v for k, v in group.items() if k != "params"},
                        grad=s.grad, state_before=s.state_before, state_after=after_state,
                    )
            self.version += 1
        except Exception:
            return

    # --- hand-written updates ----------------------------------------------------

    def manual_before(self, line: int, target: Any, operands: tuple[Any, ...]) -> None:
        """Before `target -= ...` (`target` is W for `W.data -= ...`): a tensor that
        requires grad, or any tensor updated by a product `a * b` (a hand-written
        gradient descent on a plain tensor); not sums such as `total += cost`."""
        if not isinstance(target, torch.Tensor) or target.numel() == 0:
            return
        if not operands and not target.requires_grad:
            return
        try:
            values = tuple(
                _head(v) if isinstance(v, torch.Tensor) else v for v in operands
            )
            self._manual[line] = (target, _head(target), values)
        except Exception:
            self._manual.pop(line, None)

    def manual_after(self, line: int, target: Any, source: str, operator: str, names: tuple[str, ...]) -> None:
        pre = self._manual.pop(line, None)
        if pre is None or not isinstance(target, torch.Tensor):
            return
        tensor, before, values = pre
        try:
            param = target
            self.records[id(param)] = _Record(
                param=param, kind="manual", before=before, after=_head(target),
                where=self._where(), source=source, operator=operator,
                operands=names, operand_values=values,
            )
            self.version += 1
        except Exception:
            return

    # --- descriptions ------------------------------------------------------------

    def views(self, names: dict[int, str]) -> tuple[UpdateView, ...]:
        """Every parameter's last update, in the order parameters are listed by
        `names` (id -> display name), then the others (named `param[i]`)."""
        out: list[tuple[int, UpdateView]] = []
        order = {pid: i for i, pid in enumerate(names)}
        for n, (pid, record) in enumerate(self.records.items()):
            name = names.get(pid) or names.get(id(record.param)) or f"param[{n}]"
            view = record.described.get(name)
            if view is None:
                view = describe(record, name)
                record.described = {name: view}
            out.append((order.get(pid, len(order) + n), view))
        out.sort(key=lambda item: item[0])
        return tuple(view for _, view in out)


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


def describe(record: _Record, name: str) -> UpdateView:
    """The UpdateView of one record: its rule with its numbers, or "generic"."""
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
                num = value if value.numel() > 1 else float(value)
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
