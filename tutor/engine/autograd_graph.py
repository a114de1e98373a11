"""The autograd graph behind a `backward()` call, and what its real pass did.

Why: "`backward()` fills `.grad`" is a black box. This module opens it with
torch's own numbers: at a `backward()` made by lesson code it walks the graph from
the root (`grad_fn` / `next_functions`: op names, edges, each node once however
many paths reach it), then lets the REAL backward run with a hook on every node
(`Node.register_prehook` for the gradient arriving, `Node.register_hook` for the
gradients it sends to its inputs), in the order autograd runs them, and reads
each leaf's `.grad` after it. No second backward is ever run, and every hook is
removed when the call returns (also when it raises).

Interception: `intercept_backward(handler)` replaces `torch.autograd.backward`
(which `Tensor.backward` calls) while at least one run is inside it, and puts the
original back when the last one leaves. The replacement calls the handler only on
the thread that installed it (a runner's worker), so other threads, and calls
made from inside the handler itself, go straight to torch.

Everything returned is plain data (`tutor.engine.state.BackwardGraph`): the app
never imports torch, and the graph travels pickled from the kernel process.

Local rules: for the elementwise ops a learner meets in the first lessons
(`+ - * / **`, neg, exp, log, sigmoid, tanh, relu, sqrt, abs, mean, sum) the local
derivative of the node's output with respect to each input is computed from the
tensors the node saved for backward (read before the pass frees them), so a view
can say "∂z/∂y = 2, times upstream 1 → 2". Other ops (matrix products, views,
softmax, ...) give no local numbers; their captured gradients are still shown.

Module collapsing: an op belongs to an `nn.Module` when it uses that module's
parameters directly (an AccumulateGrad input), or through ops that only transform
its parameters (`TBackward0` of `linear.weight`). So `nn.Linear`'s `AddmmBackward0`
and `TBackward0` collapse into `model.linear`, while the activation or the cost
computed from its output do not.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from types import FrameType
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn

from tutor.engine.state import SMALL_TENSOR, BackwardGraph, GraphEdge, GraphNode

FIRST_VALUES = 4  # values kept of every tensor, whatever its size, for a compact label
LEAF_OP = "AccumulateGrad"

# (roots, run the real backward, caller frame) -> what `run` returned; the handler
# must call `run` exactly once.
Handler = Callable[[tuple[torch.Tensor, ...], Callable[[], Any], FrameType | None], Any]

_install_lock = threading.Lock()
_installed = 0
_original: Callable[..., Any] | None = None
_local = threading.local()


# --- interception ------------------------------------------------------------------


def _backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
    original = _original if _original is not None else torch.autograd.backward
    handler = getattr(_local, "handler", None)
    if handler is None or getattr(_local, "busy", False):
        return original(tensors, *args, **kwargs)
    if isinstance(tensors, torch.Tensor):
        roots: tuple[torch.Tensor, ...] = (tensors,)
    elif isinstance(tensors, (list, tuple)):
        roots = tuple(t for t in tensors if isinstance(t, torch.Tensor))
    else:
        roots = ()
    frame = sys._getframe(1)
    _local.busy = True
    try:
        return handler(roots, lambda: original(tensors, *args, **kwargs), frame)
    finally:
        _local.busy = False


@contextmanager
def intercept_backward(handler: Handler) -> Iterator[None]:
    """While inside: every `backward()` on this thread goes through `handler`."""
    global _installed, _original
    with _install_lock:
        if _installed == 0:
            _original = torch.autograd.backward
            torch.autograd.backward = _backward
        _installed += 1
    previous = getattr(_local, "handler", None)
    _local.handler = handler
    try:
        yield
    finally:
        _local.handler = previous
        with _install_lock:
            _installed -= 1
            if _installed == 0:
                torch.autograd.backward = _original
                _original = None


# --- names ---------------------------------------------------------------------------


def lesson_names(
    namespace: dict[str, Any], frame_locals: dict[str, Any] | None = None,
) -> tuple[list[tuple[str, torch.Tensor]], dict[int, str], dict[str, str]]:
    """The lesson's names, from a function frame's locals first, then the namespace.

    Returns ((name, tensor) pairs, id(parameter) -> owning module path, module path
    -> class name). Parameters are named like the tensor table names them
    (`model.linear.weight`); a tensor bound twice keeps its first name.
    """
    named: list[tuple[str, torch.Tensor]] = []
    seen: set[int] = set()
    owners: dict[int, str] = {}
    types: dict[str, str] = {}
    scopes = [namespace]
    if frame_locals is not None and frame_locals is not namespace:
        scopes.insert(0, frame_locals)
    for scope in scopes:
        for name, value in list(scope.items()):
            if name.startswith("_"):
                continue
            if isinstance(value, nn.Module):
                try:
                    modules = list(value.named_modules())
                except Exception:  # a half-built module must not break the capture
                    continue
                for path, module in modules:
                    full = f"{name}.{path}" if path else name
                    for pname, param in module.named_parameters(recurse=False):
                        if id(param) not in seen:
                            seen.add(id(param))
                            named.append((f"{full}.{pname}", param))
                            owners[id(param)] = full
                            types.setdefault(full, type(module).__name__)
            elif isinstance(value, torch.Tensor) and id(value) not in seen:
                seen.add(id(value))
                named.append((name, value))
    return named, owners, types


# --- plain values --------------------------------------------------------------------


def _plain(t: torch.Tensor | None) -> list | float | None:
    if t is None or t.numel() > SMALL_TENSOR:
        return None
    t = t.detach()
    if not (t.is_floating_point() or t.is_complex()):
        t = t.to(torch.float64)  # a saved constant such as tensor(2): shown as 2.0
    return t.cpu().tolist()


def _first(t: torch.Tensor | None) -> tuple[float, ...]:
    if t is None:
        return ()
    return tuple(float(v) for v in t.detach().reshape(-1)[:FIRST_VALUES].cpu().tolist())


def _clone(t: Any) -> torch.Tensor | None:
    return t.detach().clone() if isinstance(t, torch.Tensor) else None


def _op_name(node: Any) -> str:
    name = node.name()
    return name.rsplit("::", 1)[-1]  # "torch::autograd::AccumulateGrad" -> "AccumulateGrad"


# --- local rules ---------------------------------------------------------------------

# op -> the saved attributes its rule reads
_SAVED = {
    "AddBackward0": ("_saved_alpha",),
    "SubBackward0": ("_saved_alpha",),
    "RsubBackward0": ("_saved_alpha",),
    "RsubBackward1": ("_saved_alpha",),
    "MulBackward0": ("_saved_self", "_saved_other"),
    "DivBackward0": ("_saved_self", "_saved_other"),
    "PowBackward0": ("_saved_self", "_saved_exponent"),
    "PowBackward1": ("_saved_self", "_saved_exponent", "_saved_result"),
    "PowBackward2": ("_saved_self", "_saved_exponent", "_saved_result"),
    "ExpBackward0": ("_saved_result",),
    "LogBackward0": ("_saved_self",),
    "SigmoidBackward0": ("_saved_result",),
    "TanhBackward0": ("_saved_result",),
    "ReluBackward0": ("_saved_result",),
    "SqrtBackward0": ("_saved_result",),
    "AbsBackward0": ("_saved_self",),
    "MeanBackward0": ("_saved_self_sym_numel",),
    "SumBackward0": (),
    "NegBackward0": (),
}


_ONE = torch.tensor(1.0, dtype=torch.float64)  # never changed in place


def _as_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=torch.float64)
    return None


def _local_rules(op: str, saved: dict[str, Any], inputs: int) -> list[torch.Tensor | None]:
    """The local derivative of the output with respect to each input (by
    next_functions position), from what the node saved; None where not stated."""
    s = {k: _as_tensor(v) for k, v in saved.items()}
    out: list[torch.Tensor | None] = [None] * inputs

    def put(i: int, value: torch.Tensor | None) -> None:
        if i < inputs and value is not None:
            out[i] = value

    one = _ONE
    alpha = s.get("_saved_alpha")
    alpha = one if alpha is None else alpha
    self_, other = s.get("_saved_self"), s.get("_saved_other")
    result, exponent = s.get("_saved_result"), s.get("_saved_exponent")
    if op == "AddBackward0":
        put(0, one), put(1, alpha)
    elif op == "SubBackward0":
        put(0, one), put(1, -alpha)
    elif op == "RsubBackward0":  # other - alpha * self, inputs (self, other)
        put(0, -alpha), put(1, one)
    elif op == "RsubBackward1":  # scalar - alpha * self
        put(0, -alpha)
    elif op == "MulBackward0":
        put(0, other), put(1, self_)
    elif op == "DivBackward0":
        if other is not None:
            put(0, 1 / other)
            if self_ is not None:
                put(1, -self_ / other**2)
    elif op == "PowBackward0":
        if self_ is not None and exponent is not None:
            put(0, exponent * self_ ** (exponent - 1))
    elif op == "PowBackward1":
        if self_ is not None and exponent is not None:
            put(0, exponent * self_ ** (exponent - 1))
        if result is not None and self_ is not None:
            put(1, result * torch.log(self_))
    elif op == "PowBackward2":  # scalar ** tensor: only the exponent is an input
        if result is not None and self_ is not None:
            put(0, result * torch.log(self_))
    elif op == "ExpBackward0":
        put(0, result)
    elif op == "LogBackward0":
        put(0, None if self_ is None else 1 / self_)
    elif op == "SigmoidBackward0":
        put(0, None if result is None else result * (1 - result))
    elif op == "TanhBackward0":
        put(0, None if result is None else 1 - result**2)
    elif op == "ReluBackward0":
        put(0, None if result is None else (result > 0).to(result.dtype))
    elif op == "SqrtBackward0":
        put(0, None if result is None else 1 / (2 * result))
    elif op == "AbsBackward0":
        put(0, None if self_ is None else torch.sign(self_))
    elif op == "MeanBackward0":
        numel = s.get("_saved_self_sym_numel")
        put(0, None if numel is None else 1 / numel)
    elif op == "SumBackward0":
        put(0, one)
    elif op == "NegBackward0":
        put(0, -one)
    return out


def _read_saved(node: Any, op: str) -> dict[str, Any]:
    saved: dict[str, Any] = {}
    for attr in _SAVED.get(op, ()):
        try:
            saved[attr] = getattr(node, attr)
        except (AttributeError, RuntimeError):  # freed already, or not saved by this build
            continue
    return saved


def _saved_tensors(node: Any) -> Iterable[torch.Tensor]:
    """Every tensor a node saved for backward (tensors produced by other nodes, or
    by this one as `_saved_result`): they tell the values of unnamed intermediates."""
    for attr in _saved_attrs(type(node)):
        try:
            value = getattr(node, attr)
        except (AttributeError, RuntimeError):
            continue
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from (v for v in value if isinstance(v, torch.Tensor))


_saved_attr_cache: dict[type, tuple[str, ...]] = {}


def _saved_attrs(cls: type) -> tuple[str, ...]:
    found = _saved_attr_cache.get(cls)
    if found is None:
        found = _saved_attr_cache[cls] = tuple(a for a in dir(cls) if a.startswith("_saved_"))
    return found


# --- capture -------------------------------------------------------------------------


class _Walked:
    """One node as found before the pass, plus what its hooks recorded."""

    __slots__ = ("node", "op", "inputs", "slots", "saved", "shape", "value", "arrived", "sent", "leaf", "before")

    def __init__(self, node: Any) -> None:
        self.node = node
        self.op = _op_name(node)
        self.inputs: list[int | None] = []  # per next_functions position: an id or None
        self.slots = 0
        self.saved: dict[str, Any] = {}
        self.shape: tuple[int, ...] = ()
        self.value: torch.Tensor | None = None
        self.arrived: torch.Tensor | None = None
        self.sent: tuple[torch.Tensor | None, ...] = ()
        self.leaf: torch.Tensor | None = None
        self.before: torch.Tensor | None = None


def capture(
    roots: tuple[torch.Tensor, ...],
    run: Callable[[], Any],
    *,
    names: list[tuple[str, torch.Tensor]] | None = None,
    owners: dict[int, str] | None = None,
    module_types: dict[str, str] | None = None,
    where: tuple[int | None, int | None, int | None] = (None, None, None),
    number: int = 0,
) -> tuple[BackwardGraph | None, Any]:
    """Walk the graph of `roots`, run the real backward (`run`) with hooks on every
    node, remove them, and return (the graph as plain data, what `run` returned).

    `names`: (the lesson's name, tensor) pairs; `owners`: id(parameter) -> module path
    (see `lesson_names`). `where`: (cell, line, iteration) of the call. The graph is
    None when no root has a grad_fn (then `run` raises torch's own error, as usual).
    """
    names = names or []
    owners = owners or {}
    handles: list[Any] = []
    try:
        walked, order, root_ids = _prepare(roots, handles)
    except Exception:  # an odd graph must not cost the lesson its backward()
        for handle in handles:
            handle.remove()
        walked = []
    if not walked:
        return None, run()
    try:
        result = run()
    finally:
        for handle in handles:
            handle.remove()
    try:
        graph = _graph(walked, order, root_ids, names, owners, module_types or {}, where, number)
    except Exception:  # the backward ran; only the picture of it failed
        graph = None
    return graph, result


def preview(
    root: torch.Tensor,
    *,
    names: list[tuple[str, torch.Tensor]] | None = None,
    owners: dict[int, str] | None = None,
    module_types: dict[str, str] | None = None,
    where: tuple[int | None, int | None, int | None] = (None, None, None),
) -> BackwardGraph | None:
    """The graph of `root` before any backward() runs on it: ops, edges, names,
    values and local rules, but no gradients and no order (`number` 0). For the
    view of "the tensor whose backward() is about to run" (and of the cost before
    the first backward). Walks only; hooks nothing, runs nothing."""
    if not isinstance(root, torch.Tensor) or root.grad_fn is None:
        return None
    try:
        walked, _, root_ids = _walk((root,))
        _inspect(walked, (root,))
        return _graph(walked, [], root_ids, names or [], owners or {}, module_types or {}, where, 0, ran=False)
    except Exception:  # an odd graph: no preview, nothing else changes
        return None


def _prepare(roots: tuple[torch.Tensor, ...], handles: list[Any]) -> tuple[list[_Walked], list[int], list[int]]:
    """Walk the graph from the roots and hook every node (before the pass); the
    hooks' handles go into `handles` as they are made."""
    walked, order, root_ids = _walk(roots)
    if walked:
        _inspect(walked, roots)
        _hook(walked, order, handles)
    return walked, order, root_ids


def _walk(roots: tuple[torch.Tensor, ...]) -> tuple[list[_Walked], list[int], list[int]]:
    """Every node reachable from the roots, depth first in preorder, each once."""
    walked: list[_Walked] = []
    index: dict[Any, int] = {}
    root_ids: list[int] = []

    def visit(node: Any) -> int:
        found = index.get(node)
        if found is not None:
            return found
        index[node] = len(walked)
        walked.append(_Walked(node))
        return index[node]

    # Depth first, preorder, iteratively (graphs of long loops can be deep).
    for root in roots:
        fn = root.grad_fn
        if fn is None:  # a leaf (or a tensor outside autograd): no graph to walk
            continue
        if fn in index:
            root_ids.append(index[fn])
            continue
        root_ids.append(visit(fn))
        stack = [fn]
        while stack:
            node = stack.pop()
            entry = walked[index[node]]
            nexts = node.next_functions
            entry.slots = len(nexts)
            children = []
            for child, _ in nexts:
                if child is None:
                    entry.inputs.append(None)
                    continue
                new = child not in index
                entry.inputs.append(visit(child))
                if new:
                    children.append(child)
            stack.extend(reversed(children))
    return walked, [], root_ids


def _inspect(walked: list[_Walked], roots: tuple[torch.Tensor, ...]) -> None:
    """Shapes, values and saved tensors, read before a pass frees them."""
    index = {entry.node: i for i, entry in enumerate(walked)}
    for root in roots:  # the roots' own values and names
        fn = root.grad_fn
        if fn is not None and fn in index and walked[index[fn]].value is None:
            walked[index[fn]].value = root.detach()

    for i, entry in enumerate(walked):
        node = entry.node
        if entry.op == LEAF_OP:
            leaf = getattr(node, "variable", None)
            entry.leaf = leaf
            if isinstance(leaf, torch.Tensor):
                entry.shape = tuple(leaf.shape)
                entry.value = leaf.detach()
                entry.before = _clone(leaf.grad)
        else:
            try:
                entry.shape = tuple(node._input_metadata[0].shape)
            except (AttributeError, IndexError, RuntimeError):
                entry.shape = ()
            entry.saved = _read_saved(node, entry.op)
            for t in _saved_tensors(node):  # values of unnamed tensors, where saved
                producer = index.get(t.grad_fn)
                if producer is not None and walked[producer].value is None:
                    walked[producer].value = t.detach()


def _hook(walked: list[_Walked], order: list[int], handles: list[Any]) -> None:
    """A prehook (gradient arriving, order) on every node, a hook (gradients sent
    on) on every op."""
    for i, entry in enumerate(walked):
        node = entry.node

        def pre(grad_outputs: tuple, i: int = i) -> None:
            order.append(i)
            walked[i].arrived = _clone(grad_outputs[0]) if grad_outputs else None

        handles.append(node.register_prehook(pre))
        if entry.op != LEAF_OP:
            def post(grad_inputs: tuple, grad_outputs: tuple, i: int = i) -> None:
                walked[i].sent = tuple(_clone(g) for g in grad_inputs)

            handles.append(node.register_hook(post))


def _graph(
    walked: list[_Walked], order: list[int], root_ids: list[int], names: list[tuple[str, torch.Tensor]],
    owners: dict[int, str], types: dict[str, str], where: tuple[int | None, int | None, int | None], number: int,
    ran: bool = True,
) -> BackwardGraph:
    """What the walk and the hooks recorded, as plain data (after the pass; with
    `ran` False, a preview: no gradients at all, a leaf's `.grad` as `grad_before`)."""
    # Values of unnamed nodes the saved tensors did not give: recompute the simplest
    # elementwise ones from their inputs' values (z = 2 * y: y's value times 2).
    tensor_names = _node_names(walked, names)
    with torch.no_grad():
        for entry in reversed(walked):
            if entry.value is None:
                entry.value = _recompute(entry, walked)

    nodes = []
    with torch.no_grad():
        modules = _modules(walked, owners)
        for i, entry in enumerate(walked):
            locals_ = _local_rules(entry.op, entry.saved, entry.slots) if entry.op != LEAF_OP else []
            edges = []
            for pos, to in enumerate(entry.inputs):
                if to is None:
                    continue
                sent = entry.sent[pos] if pos < len(entry.sent) else None
                local = locals_[pos] if pos < len(locals_) else None
                edges.append(GraphEdge(to=to, grad=_plain(sent), local=_plain(local)))
            if entry.op == LEAF_OP:
                leaf = entry.leaf
                grad_after = leaf.grad if isinstance(leaf, torch.Tensor) and ran else None
                grad = _plain(grad_after)
            else:
                grad = _plain(entry.arrived)
            nodes.append(GraphNode(
                id=i,
                op=entry.op,
                name=tensor_names.get(i),
                shape=entry.shape,
                value=_plain(entry.value),
                first=_first(entry.value),
                grad=grad,
                inputs=tuple(to for to in entry.inputs if to is not None),
                edges=tuple(edges),
                module=modules.get(i),
                arrived=_plain(entry.arrived) if entry.op == LEAF_OP else None,
                grad_before=_plain(entry.before) if entry.op == LEAF_OP else None,
            ))
    used = sorted(set(modules.values()))
    cell, line, iteration = where
    return BackwardGraph(
        nodes=tuple(nodes), order=tuple(order), roots=tuple(root_ids),
        cell=cell, line=line, iteration=iteration, number=number,
        modules=tuple((m, types.get(m, "")) for m in used),
    )


def _recompute(entry: _Walked, walked: list[_Walked]) -> torch.Tensor | None:
    values = [None if i is None else walked[i].value for i in entry.inputs]
    saved = {k: _as_tensor(v) for k, v in entry.saved.items()}
    op = entry.op
    try:
        if op == "MulBackward0":
            a = values[0] if values and values[0] is not None else saved.get("_saved_self")
            b = values[1] if len(values) > 1 and values[1] is not None else saved.get("_saved_other")
            return None if a is None or b is None else (a * b).to(a.dtype if a.is_floating_point() else b.dtype)
        if op == "DivBackward0":
            a = values[0] if values and values[0] is not None else saved.get("_saved_self")
            b = values[1] if len(values) > 1 and values[1] is not None else saved.get("_saved_other")
            return None if a is None or b is None else (a / b).to(a.dtype)
        if op == "NegBackward0" and values and values[0] is not None:
            return -values[0]
        if op == "PowBackward0":
            a, e = saved.get("_saved_self"), entry.saved.get("_saved_exponent")
            return None if a is None or e is None else a**e
        if op == "TBackward0" and values and values[0] is not None:
            return values[0].t()  # nn.Linear's weight, transposed
        if op in ("ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0") and values and values[0] is not None:
            return values[0].reshape(entry.shape)
    except (RuntimeError, TypeError):
        return None
    return None


def _node_names(walked: list[_Walked], names: list[tuple[str, torch.Tensor]]) -> dict[int, str]:
    """Node id -> the lesson's name of the tensor it produced (leaves: the tensor)."""
    by_fn: dict[Any, int] = {entry.node: i for i, entry in enumerate(walked)}
    leaves = {id(e.leaf): i for i, e in enumerate(walked) if e.leaf is not None}
    out: dict[int, str] = {}
    for name, tensor in names:
        fn = tensor.grad_fn
        if fn is not None:
            i = by_fn.get(fn)
            if i is not None and tensor.output_nr == 0 and i not in out:
                out[i] = name
                if walked[i].value is None:
                    walked[i].value = tensor.detach()
        else:
            i = leaves.get(id(tensor))
            if i is not None:
                out.setdefault(i, name)
    return out


def _modules(walked: list[_Walked], owners: dict[int, str]) -> dict[int, str]:
    """Node id -> module path, by the rule in the module docstring."""
    if not owners:
        return {}
    leaf_module: dict[int, str] = {}
    for i, entry in enumerate(walked):
        if entry.leaf is not None and id(entry.leaf) in owners:
            leaf_module[i] = owners[id(entry.leaf)]
    param_only: dict[int, str] = {}  # ops that only transform one module's parameters
    out: dict[int, str] = dict(leaf_module)
    # Children have larger ids than at least one parent (preorder), so going from the
    # end sees every input before the nodes using it... except shared nodes found
    # first from elsewhere; iterate until nothing changes (graphs here are small).
    changed = True
    while changed:
        changed = False
        for i in range(len(walked) - 1, -1, -1):
            entry = walked[i]
            if entry.op == LEAF_OP or i in out:
                continue
            ins = [to for to in entry.inputs if to is not None]
            # A parameter transform (TBackward0 of a weight) has parameters as its only
            # inputs; an op that also takes data (a None slot: x needs no grad) is not one.
            if ins and len(ins) == len(entry.inputs) and all(to in leaf_module or to in param_only for to in ins):
                mods = {leaf_module.get(to) or param_only.get(to) for to in ins}
                if len(mods) == 1:
                    param_only[i] = out[i] = mods.pop()
                    changed = True
                    continue
            direct = {leaf_module.get(to) or param_only.get(to) for to in ins if to in leaf_module or to in param_only}
            if len(direct) == 1:
                out[i] = direct.pop()
                changed = True
    return out
