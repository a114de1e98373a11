"""What a steppable loop's body says about its cost surface, read from the AST alone.

The landscape view re-evaluates *the lesson's own cost* at other parameter values.
The statements that lead to the cost are found by a backward slice over the loop
body: start from the last top-level assignment to the cost variable and walk back,
taking every earlier top-level assignment that binds a name still needed (and then
the names that one reads). `hypothesis = x_train * W; cost = torch.mean(...)` is
such a slice; `print(...)`, `optimizer.zero_grad()` and `cost.backward()` never are.

The same walk finds how the loop trains, for the critical learning rate:
`opt.step()` calls (a torch.optim optimizer), and hand-written updates
`P -= lr * G` / `P = P - lr * G` (also inside `with torch.no_grad():`), where `G`
is the gradient the lesson itself uses (the seed's `gradient = ...`, or `P.grad`).

A slice that could change the run when re-executed is refused, with a reason the
UI words: calls to `next`/`print`/`input`/`open`, in-place methods (`x.add_()`),
`.backward()`, `.step()`, container mutation (`append`, `update`, ...), an
augmented assignment to a name the slice did not bind itself (it would modify the
run's own object in place). Nothing here imports torch.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from types import CodeType

from tutor.engine.instrument import cell_loops

_IMPURE_NAMES = frozenset({"print", "next", "input", "open", "exec", "eval", "setattr", "delattr", "breakpoint"})
_IMPURE_METHODS = frozenset({
    "backward", "step", "zero_grad", "append", "extend", "insert", "pop", "popitem", "remove",
    "clear", "update", "setdefault", "add_module", "register_buffer", "register_parameter",
    "write", "send", "put", "seed", "manual_seed", "load_state_dict", "train", "eval",
})

# Why there is no landscape for a loop (the UI words these keys).
NO_COST = "no-cost"  # the cost is not assigned at the top level of the loop body
IMPURE = "impure"  # the statements leading to the cost would change the run
NO_PARAMS = "no-params"  # the cost depends on no trainable tensor
UNKNOWN_PARAM = "unknown-param"  # front matter names a parameter the loop does not use


@dataclass(frozen=True)
class Update:
    """A hand-written update `param -= lr * gradient`; `grad_source` is None for
    `param.grad` (autograd's gradient), else the expression's source."""

    param: str
    grad_source: str | None


@dataclass(frozen=True)
class LoopPlan:
    """The cost slice of one steppable loop, compiled, and how the loop trains."""

    cost_code: CodeType | None
    reads: tuple[str, ...]  # names the slice reads from the namespace
    updates: tuple[Update, ...] = ()
    grad_code: CodeType | None = None  # slice + `__tutor_g__ = [G1, G2, ...]` for hand updates
    steps: tuple[str, ...] = ()  # names X of `X.step()` calls in the body
    zero_grad: bool = False  # the body clears gradients (zero_grad(), .grad.zero_(), .grad = None)
    problem: str | None = None
    lines: tuple[int, ...] = field(default=())  # cell lines of the slice's statements


def find_loop(tree: ast.Module, loop: int) -> ast.For | ast.AsyncFor | ast.While | None:
    """The `loop`-th steppable loop of a cell, counted as instrument.py counts them."""
    loops = cell_loops(tree)
    return loops[loop] if 0 <= loop < len(loops) else None


def _targets(stmt: ast.stmt) -> set[str] | None:
    """Names bound by a plain assignment statement (None: not one, or it also
    assigns to attributes/subscripts, which would write into the run's objects)."""
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        if stmt.value is None:
            return None
        targets = [stmt.target]
    else:
        return None
    names: set[str] = set()
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, (ast.Attribute, ast.Subscript)):
                return None
    return names


def _reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _inplace_target(stmt: ast.stmt) -> str | None:
    """X for a statement `X.method_(...)` (an in-place tensor method on a name)."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.attr.endswith("_") and not func.attr.startswith("_")):
            return func.value.id
    return None


def _impure(stmts: list[ast.stmt]) -> bool:
    """Would re-running these statements change the run? In-place work is allowed
    only on names the statements bound themselves (fresh tensors of the copy)."""
    bound: set[str] = set()
    for stmt in stmts:
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id not in bound:
            return True
        inplace = _inplace_target(stmt)
        if inplace is not None and inplace not in bound:
            return True
        for node in ast.walk(stmt):
            if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await, ast.NamedExpr)):
                return True
            if isinstance(node, ast.Call):
                func = node.func
                if inplace is not None and node is stmt.value:
                    continue
                if isinstance(func, ast.Name) and func.id in _IMPURE_NAMES:
                    return True
                if isinstance(func, ast.Attribute) and (
                    func.attr in _IMPURE_METHODS or (func.attr.endswith("_") and not func.attr.startswith("_"))
                ):
                    return True
        bound |= _targets(stmt) or set()
    return False


def backward_slice(stmts: list[ast.stmt], end: int, needed: set[str]) -> list[ast.stmt]:
    """The statements among stmts[:end] (top level only) that compute `needed`:
    assignments binding a needed name, and in-place calls on one (`y.scatter_(...)`)."""
    needed = set(needed)
    chosen: list[ast.stmt] = []
    for stmt in reversed(stmts[:end]):
        inplace = _inplace_target(stmt)
        if inplace is not None and inplace in needed:
            chosen.append(stmt)
            needed |= _reads(stmt)
            continue
        bound = _targets(stmt)
        if bound and bound & needed:
            chosen.append(stmt)
            if not isinstance(stmt, ast.AugAssign):
                needed -= bound
            needed |= _reads(stmt.value)
    chosen.reverse()
    return chosen


def _compile(stmts: list[ast.stmt], filename: str) -> CodeType:
    module = ast.Module(body=stmts, type_ignores=[])
    return compile(ast.fix_missing_locations(module), filename, "exec", dont_inherit=True)


def _lr_factor(value: ast.expr, lr_name: str) -> ast.expr | None:
    """G in `lr * G` or `G * lr` (None when the lr is not a factor)."""
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult):
        if isinstance(value.left, ast.Name) and value.left.id == lr_name:
            return value.right
        if isinstance(value.right, ast.Name) and value.right.id == lr_name:
            return value.left
    return None


def _update_of(stmt: ast.stmt, lr_name: str) -> tuple[str, ast.expr] | None:
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Sub) and isinstance(stmt.target, ast.Name):
        g = _lr_factor(stmt.value, lr_name)
        return (stmt.target.id, g) if g is not None else None
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        name, value = stmt.targets[0].id, stmt.value
        if (isinstance(value, ast.BinOp) and isinstance(value.op, ast.Sub)
                and isinstance(value.left, ast.Name) and value.left.id == name):
            g = _lr_factor(value.right, lr_name)
            return (name, g) if g is not None else None
    return None


def _is_grad_of(expr: ast.expr, name: str) -> bool:
    return (isinstance(expr, ast.Attribute) and expr.attr == "grad"
            and isinstance(expr.value, ast.Name) and expr.value.id == name)


def plan_loop(source: str, loop: int, *, cost_name: str | None, lr_name: str = "lr") -> LoopPlan:
    """Read one steppable loop of a cell: its cost slice and how it trains."""
    tree = ast.parse(source)
    node = find_loop(tree, loop)
    if node is None:
        return LoopPlan(cost_code=None, reads=(), problem=NO_COST)
    body = node.body
    names = (cost_name,) if cost_name else ("cost", "loss")
    end = None
    for name in names:
        for i in range(len(body) - 1, -1, -1):
            bound = _targets(body[i])
            if bound and name in bound:
                end, cost = i + 1, name
                break
        if end is not None:
            break
    if end is None:
        return LoopPlan(cost_code=None, reads=(), problem=NO_COST)
    stmts = backward_slice(body, end, {cost})
    if _impure(stmts):
        return LoopPlan(cost_code=None, reads=(), problem=IMPURE)
    reads = _free_names(stmts)
    result_name = ast.Name(id="__tutor_cost__", ctx=ast.Store())
    tail = ast.Assign(targets=[result_name], value=ast.Name(id=cost, ctx=ast.Load()), lineno=1, col_offset=0)
    cost_code = _compile([*stmts, tail], "<landscape>")

    updates: list[Update] = []
    grads: list[ast.expr] = []
    update_at: int | None = None
    steps: list[str] = []
    for i, stmt in enumerate(body):
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "step" \
                    and isinstance(sub.func.value, ast.Name):
                steps.append(sub.func.value.id)
            if isinstance(sub, ast.stmt):
                found = _update_of(sub, lr_name)
                if found is not None:
                    param, g = found
                    grad_source = None if _is_grad_of(g, param) else ast.unparse(g)
                    updates.append(Update(param=param, grad_source=grad_source))
                    grads.append(g)
                    update_at = i if update_at is None else update_at
    grad_code = None
    if updates and any(u.grad_source is not None for u in updates) and update_at is not None:
        needed = set().union(*(_reads(g) for g in grads))
        gstmts = backward_slice(body, update_at, needed)
        if not _impure(gstmts):
            gather = ast.Assign(
                targets=[ast.Name(id="__tutor_g__", ctx=ast.Store())],
                value=ast.List(elts=grads, ctx=ast.Load()), lineno=1, col_offset=0,
            )
            grad_code = _compile([*gstmts, gather], "<landscape>")
    return LoopPlan(
        cost_code=cost_code, reads=tuple(reads), zero_grad=_zeroes_grads(body), updates=tuple(updates), grad_code=grad_code,
        steps=tuple(dict.fromkeys(steps)), lines=tuple(s.lineno for s in stmts),
    )


def _free_names(stmts: list[ast.stmt]) -> list[str]:
    """Names the statements read before binding them (they come from the namespace),
    in the order they first appear in the source (so `x * W + b` gives W before b)."""
    bound: set[str] = set()
    free: dict[str, None] = {}
    for stmt in stmts:
        parts = [stmt.value] if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)) else [stmt]
        if isinstance(stmt, ast.AugAssign):
            parts.append(stmt.target)
        nodes = [n for part in parts for n in ast.walk(part) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
        nodes.sort(key=lambda n: (n.lineno, n.col_offset))
        for node in nodes:
            if node.id not in bound:
                free.setdefault(node.id, None)
        bound |= _targets(stmt) or set()
    return list(free)


def _zeroes_grads(body: list[ast.stmt]) -> bool:
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "zero_grad":
                return True
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "zero_"
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "grad"):
                return True
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr == "grad" for t in node.targets
            ):
                return True
    return False


def parse_axis_name(text: str) -> tuple[str, tuple[int, ...] | None] | None:
    """`model.linear.weight[0, 0]` → ("model.linear.weight", (0, 0)); `W` → ("W", None);
    None when it is not such a name (front matter `landscape:` entries)."""
    text = text.strip()
    index: tuple[int, ...] | None = None
    base = text
    if text.endswith("]") and "[" in text:
        base, _, rest = text.partition("[")
        inner = rest[:-1]
        try:
            index = tuple(int(part) for part in inner.split(","))
        except ValueError:
            return None
        if any(i < 0 for i in index):
            return None
    parts = base.split(".")
    if not parts or not all(part.isidentifier() for part in parts):
        return None
    return base, index
