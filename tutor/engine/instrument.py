"""AST rewriting that turns a lesson cell into steppable code.

Why rewrite instead of `sys.settrace`: tracing made a 1000-epoch training loop 25x
slower; a plain function call before each statement costs next to nothing. The
rewritten cell calls back into the runner through a few names injected into the
namespace (all start with `__tutor_`, so snapshots and learners never see them):

- `__tutor_pause__(line)` before every statement of the cell's own code
  (module level and the bodies of its `if`/`for`/`while`/`with`/`try`/`match`),
  a *statement pause point*. `line` is the lesson-file line of that statement.
- `__tutor_iter__(loop, line)` as the first statement of every iteration of a
  *top-level* `for`/`while` loop: the *iteration pause point*. It replaces the
  statement pause point of the body's first statement (one stop, not two).
- `__tutor_loop__(loop, iterable)` wraps the iterable of every top-level `for` loop
  and returns it unchanged; the runner reads its length when it is a plain sized
  sequence (a `range`, list, tuple), so a free run knows which iterations are the
  last few and can keep their states for an instant step back.
- `__tutor_loop_end__(loop)` right after each top-level loop, so the runner can
  record the last iteration (`break` lands there too; `continue` reaches the next
  iteration point, which records the previous iteration).
- "Top-level" is the cell's own scope: its body and the bodies of its `if`, `with`,
  `try` and `match` statements, not a loop's body or a function's. Notebooks wrap
  training in `try: ... except KeyboardInterrupt:` or `with ...:`; such a loop steps by
  iterations like one at the top. Since an exception may leave it for the cell's own
  handler, it is wrapped in `try: ... except BaseException: __tutor_loop_abort__(loop);
  raise` (no record of a half iteration). `cell_loops()` lists these loops in the order
  they are numbered (the landscape's plan and `tutor check` read them the same way).
- Functions defined in the cell (`def train(...)`, methods like `forward`, nested
  `def`s) get the same treatment with their own hooks, which also tell the runner
  the function's frame (its locals are shown first, the cost and lr are looked up
  there, the status line says `train() ← cell 5`): `__tutor_fpause__(line)` before
  every statement of their bodies; `__tutor_fiter__(loop, line)` at each iteration of
  a loop of the function's own scope (its body, and its if/with/try/match bodies) of
  a function defined at the cell's top level (not a generator:
  its loop runs inside whoever iterates it), with `__tutor_floop__(loop, iterable)`
  around its iterable and the loop wrapped in `try: ... except BaseException:
  __tutor_floop_abort__(loop); raise finally: __tutor_floop_end__(loop)`, because a
  function's loop also ends by `return` or by an exception caught by its caller. The
  loop number of a function loop is its lesson-file line (unique in the lesson); the
  runner makes such a loop the steppable one only when no other steppable loop is
  running (inside a cell's `for epoch ...:` a function's batch loop is statements).
  A parameter named like the lesson's lr gets `lr = __tutor_lr__(lr)` as the
  function's first statement. Library code is never rewritten, so never entered.
- `__tutor_check__()` at the start of loop bodies inside class bodies (code that
  runs at class definition): not a pause point, only a cancel check so `close()`
  stays prompt.
- `lr = expr` (the lesson's learning-rate name) at the cell's own scope becomes
  `lr = __tutor_lr__(expr)`, which yields the learner's override.
- A hand-written update at the cell's own scope, `T -= expr` or `T += expr` where
  T is a name or an attribute (`W`, `W.data`, `model.w`), is wrapped in
  `__tutor_update__(line, owner, operands)` before and
  `__tutor_updated__(line, owner, source, op, names)` after it (owner: `W` for
  `W.data`; operands: the two sides of `expr` when it is a product `a * b` of
  names, attributes and numbers, evaluated once more, which has no side effect for
  such expressions), so updates.py can write the step out with its numbers.
- A last bare expression `expr` becomes `__tutor_echo__(expr)` (print its repr
  unless None, as Jupyter does; `expr;` stays silent, as in Jupyter).

Nothing in the original code moves: every node keeps its line, then the whole tree
is shifted by `first_line - 1` and compiled with the lesson's path, so tracebacks,
`SyntaxError`s and pause points all name real lesson-file lines.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from types import CodeType

PAUSE = "__tutor_pause__"
ITER = "__tutor_iter__"
LOOP_END = "__tutor_loop_end__"
LOOP_ABORT = "__tutor_loop_abort__"
LOOP = "__tutor_loop__"
CHECK = "__tutor_check__"
LR = "__tutor_lr__"
ECHO = "__tutor_echo__"
UPDATE = "__tutor_update__"
UPDATED = "__tutor_updated__"
FPAUSE = "__tutor_fpause__"
FITER = "__tutor_fiter__"
FLOOP = "__tutor_floop__"
FLOOP_END = "__tutor_floop_end__"
FLOOP_ABORT = "__tutor_floop_abort__"

HOOK_NAMES = (PAUSE, ITER, LOOP, LOOP_END, LOOP_ABORT, CHECK, LR, ECHO, UPDATE, UPDATED,
              FPAUSE, FITER, FLOOP, FLOOP_END, FLOOP_ABORT)

_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


@dataclass(frozen=True)
class InstrumentedCell:
    """A cell's compiled, rewritten code plus what the runner needs to know about it."""

    code: CodeType
    loops: int  # number of top-level (steppable) loops
    first_line: int  # lesson-file line of the cell's first code line


def _call(name: str, *args: ast.expr) -> ast.expr:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def _stmt_call(name: str, where: ast.AST, *args: ast.expr) -> ast.stmt:
    return ast.copy_location(ast.Expr(value=_call(name, *args)), where)


class _Rewriter:
    def __init__(self, offset: int, lr_name: str) -> None:
        self.offset = offset  # added to a node's cell line to get its file line
        self.lr_name = lr_name
        self.loops = 0

    def file_line(self, node: ast.AST) -> ast.Constant:
        return ast.Constant(getattr(node, "lineno", 1) + self.offset)

    # --- the cell's own scope: statement pause points -------------------------

    def module(self, tree: ast.Module, source: str) -> None:
        body = tree.body
        last_echo = bool(body) and isinstance(body[-1], ast.Expr) and not _ends_with_semicolon(body[-1], source)
        new: list[ast.stmt] = []
        for i, stmt in enumerate(body):
            if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
                new.append(stmt)  # must stay first: no pause point before it
                continue
            if last_echo and i == len(body) - 1:
                stmt = ast.copy_location(ast.Expr(value=_call(ECHO, stmt.value)), stmt)
            new.append(_stmt_call(PAUSE, stmt, self.file_line(stmt)))
            wrap = self.update_calls(stmt)
            if wrap is not None:
                new.extend((wrap[0], stmt, wrap[1]))
                continue
            if isinstance(stmt, _LOOPS):
                loop_no = self.cell_loop(stmt)
                new.append(stmt)
                new.append(_stmt_call(LOOP_END, stmt, loop_no))
            else:
                self.rewrite_children(stmt, cell_scope=True)
                new.append(stmt)
        tree.body = new

    def cell_loop(self, loop: ast.For | ast.AsyncFor | ast.While) -> ast.Constant:
        """Number a loop of the cell's scope and give it iteration points."""
        loop_no = ast.Constant(self.loops)
        self.loops += 1
        self.rewrite_children(loop, first_body_iter=loop_no)
        if isinstance(loop, (ast.For, ast.AsyncFor)):
            loop.iter = ast.copy_location(_call(LOOP, loop_no, loop.iter), loop.iter)
        return loop_no

    def block(self, stmts: list[ast.stmt], iter_loop: ast.Constant | None = None,
              cell_scope: bool = False) -> list[ast.stmt]:
        """`cell_scope`: a body of an `if`/`with`/`try`/`match` of the cell's own scope,
        whose loops are steppable (see the module docstring)."""
        new: list[ast.stmt] = []
        for i, stmt in enumerate(stmts):
            if i == 0 and iter_loop is not None:
                new.append(_stmt_call(ITER, stmt, iter_loop, self.file_line(stmt)))
            else:
                new.append(_stmt_call(PAUSE, stmt, self.file_line(stmt)))
            wrap = self.update_calls(stmt)
            if wrap is not None:
                new.extend((wrap[0], stmt, wrap[1]))
                continue
            if cell_scope and isinstance(stmt, _LOOPS):
                loop_no = self.cell_loop(stmt)
                new.append(_aborted_by_exception(stmt, _stmt_call(LOOP_ABORT, stmt, loop_no)))
                new.append(_stmt_call(LOOP_END, stmt, loop_no))
                continue
            self.rewrite_children(stmt, cell_scope=cell_scope)
            new.append(stmt)
        return new

    def update_calls(self, stmt: ast.stmt) -> tuple[ast.stmt, ast.stmt] | None:
        """The two calls around a hand-written update `T -= expr` / `T += expr`."""
        if not isinstance(stmt, ast.AugAssign) or not isinstance(stmt.op, (ast.Sub, ast.Add)):
            return None
        target = stmt.target
        if not isinstance(target, (ast.Name, ast.Attribute)) or not _simple(target):
            return None
        owner = target.value if isinstance(target, ast.Attribute) and target.attr == "data" else target
        owner = _load(owner)
        value = stmt.value
        operands: list[ast.expr] = []
        if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult) and _simple(value.left) and _simple(value.right):
            operands = [_load(value.left), _load(value.right)]
        line = self.file_line(stmt)
        names = ast.Tuple(elts=[ast.Constant(ast.unparse(o)) for o in operands], ctx=ast.Load())
        before = _stmt_call(UPDATE, stmt, line, owner, ast.Tuple(elts=operands, ctx=ast.Load()))
        after = _stmt_call(
            UPDATED, stmt, line, _load(owner), ast.Constant(ast.unparse(stmt)),
            ast.Constant("-" if isinstance(stmt.op, ast.Sub) else "+"), names,
        )
        return before, after

    def rewrite_children(self, stmt: ast.stmt, first_body_iter: ast.Constant | None = None,
                         cell_scope: bool = False) -> None:
        """Rewrite one statement of the cell's scope: lr assignments, nested blocks
        (`cell_scope`: a compound statement whose blocks are still the cell's scope)."""
        if isinstance(stmt, _SCOPES):
            _Functions(self).scope(stmt, top=True)
            return
        self.rewrite_lr(stmt)
        _rewrite_blocks(stmt, lambda body: self.block(body, cell_scope=cell_scope),
                        lambda body: self.block(body, iter_loop=first_body_iter))

    def rewrite_lr(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == self.lr_name for t in stmt.targets):
                stmt.value = ast.copy_location(_call(LR, stmt.value), stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            if isinstance(stmt.target, ast.Name) and stmt.target.id == self.lr_name:
                stmt.value = ast.copy_location(_call(LR, stmt.value), stmt.value)


def _simple(node: ast.expr) -> bool:
    """A name, an attribute chain on a name, or a number: evaluating it twice is
    harmless (no call, no subscript)."""
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return _simple(node.value) and not isinstance(node.value, ast.Constant)
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant) and _simple(node.operand)
    return False


def _load(node: ast.expr) -> ast.expr:
    """A copy of an expression in load context (a target is in store context)."""
    node = copy.deepcopy(node)
    for sub in ast.walk(node):
        if hasattr(sub, "ctx"):
            sub.ctx = ast.Load()
    return node


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


class _Functions:
    """Pause points inside the bodies of functions defined in a cell (see above)."""

    def __init__(self, cell: "_Rewriter") -> None:
        self.cell = cell

    def scope(self, node: ast.AST, top: bool) -> None:
        if isinstance(node, _FUNCTIONS):
            self.function(node, steppable=top and not _is_generator(node))
        elif isinstance(node, ast.ClassDef):
            _FunctionLoopChecks().visit_body(node.body)
            for stmt in node.body:
                self.nested(stmt)

    def nested(self, node: ast.AST) -> None:
        """Functions and classes anywhere inside a class body or a function body."""
        if isinstance(node, _FUNCTIONS):
            self.function(node, steppable=False)
        elif isinstance(node, ast.ClassDef):
            self.scope(node, top=False)

    def function(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, steppable: bool) -> None:
        body = fn.body
        docstring = []
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            docstring, body = body[:1], body[1:]
        new = self.block(body, steppable=steppable) if body else []
        lr_name = self.cell.lr_name
        args = fn.args
        params = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
        if lr_name in params and new:
            where = body[0]
            take = ast.copy_location(
                ast.Assign(targets=[ast.Name(id=lr_name, ctx=ast.Store())],
                           value=_call(LR, ast.Name(id=lr_name, ctx=ast.Load()))), where)
            new.insert(0, take)
        fn.body = docstring + new if (docstring or new) else fn.body

    def block(self, stmts: list[ast.stmt], steppable: bool = False,
              iter_loop: ast.Constant | None = None) -> list[ast.stmt]:
        cell = self.cell
        new: list[ast.stmt] = []
        for i, stmt in enumerate(stmts):
            line = cell.file_line(stmt)
            if i == 0 and iter_loop is not None:
                new.append(_stmt_call(FITER, stmt, iter_loop, line))
            else:
                new.append(_stmt_call(FPAUSE, stmt, line))
            wrap = cell.update_calls(stmt)
            if wrap is not None:
                new.extend((wrap[0], stmt, wrap[1]))
                continue
            if steppable and isinstance(stmt, _LOOPS):
                new.append(self.steppable_loop(stmt, line))
                continue
            self.children(stmt, steppable)
            new.append(stmt)
        return new

    def steppable_loop(self, loop: ast.For | ast.AsyncFor | ast.While, line: ast.Constant) -> ast.stmt:
        loop.body = self.block(loop.body, iter_loop=line)
        loop.orelse = self.block(loop.orelse)
        if isinstance(loop, (ast.For, ast.AsyncFor)):
            loop.iter = ast.copy_location(_call(FLOOP, line, loop.iter), loop.iter)
        return _aborted_by_exception(loop, _stmt_call(FLOOP_ABORT, loop, line),
                                     finally_=_stmt_call(FLOOP_END, loop, line))

    def children(self, stmt: ast.stmt, steppable: bool = False) -> None:
        """`steppable`: `stmt` is in the function's own scope, so the loops in its
        if/with/try/match bodies are steppable too (as a cell's are)."""
        if isinstance(stmt, (*_FUNCTIONS, ast.ClassDef)):
            self.nested(stmt)
            return
        self.cell.rewrite_lr(stmt)
        _rewrite_blocks(stmt, lambda body: self.block(body, steppable=steppable), self.block)


def _block_slots(stmt: ast.stmt) -> list[tuple[ast.AST, str]]:
    """Where a compound statement other than a loop keeps its statement lists, as
    (node, attribute), in the one order both the rewriting and cell_loops() follow
    (the loop numbers the runner, the landscape's plan and `tutor check` share)."""
    if isinstance(stmt, ast.If):
        return [(stmt, "body"), (stmt, "orelse")]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return [(stmt, "body")]
    if isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
        return [(stmt, "body"), *((h, "body") for h in stmt.handlers), (stmt, "orelse"), (stmt, "finalbody")]
    if isinstance(stmt, ast.Match):
        return [(case, "body") for case in stmt.cases]
    return []


def _rewrite_blocks(stmt: ast.stmt, block, loop_body) -> None:
    """Rewrite every statement list nested in a compound statement with `block`
    (a loop's own body with `loop_body`: the cell's loops get iteration points there).
    One walk for cells and for lesson functions, so both reach the same statements."""
    if isinstance(stmt, _LOOPS):
        stmt.body = loop_body(stmt.body)
        stmt.orelse = block(stmt.orelse)
        return
    for node, attribute in _block_slots(stmt):
        setattr(node, attribute, block(getattr(node, attribute)))


def _aborted_by_exception(loop: ast.stmt, abort: ast.stmt, finally_: ast.stmt | None = None) -> ast.stmt:
    """`try: loop except BaseException: abort; raise` (and `finally: finally_`): an
    exception leaving the loop tells the runner first, then goes on as it was."""
    handler = ast.ExceptHandler(type=ast.Name(id="BaseException", ctx=ast.Load()), name=None,
                                body=[abort, ast.Raise(exc=None, cause=None)])
    wrapped = ast.Try(body=[loop], handlers=[handler], orelse=[], finalbody=[finally_] if finally_ else [])
    return ast.copy_location(wrapped, loop)


def cell_loops(tree: ast.Module) -> list[ast.For | ast.AsyncFor | ast.While]:
    """The steppable loops of a parsed cell, in the order they are numbered: those of
    the cell's scope (its body and its if/with/try/match bodies)."""
    found: list[ast.For | ast.AsyncFor | ast.While] = []

    def walk(stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            if isinstance(stmt, _LOOPS):
                found.append(stmt)
            elif not isinstance(stmt, _SCOPES):
                for node, attribute in _block_slots(stmt):
                    walk(getattr(node, attribute))

    walk(tree.body)
    return found


def _is_generator(fn: ast.AST) -> bool:
    """`yield` in the function's own body (not in a nested function or lambda)."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if not isinstance(node, (*_SCOPES,)):
            stack.extend(ast.iter_child_nodes(node))
    return False


class _FunctionLoopChecks(ast.NodeVisitor):
    """Inside class bodies: a cancel check at the start of every loop body."""

    def _loop(self, node: ast.For | ast.AsyncFor | ast.While) -> None:
        self.generic_visit(node)
        node.body.insert(0, _stmt_call(CHECK, node.body[0]))

    visit_For = visit_AsyncFor = visit_While = _loop

    def visit_FunctionDef(self, node: ast.AST) -> None:
        """Function bodies get pause points instead (`_Functions`)."""

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_body(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.visit(stmt)


def _ends_with_semicolon(stmt: ast.stmt, source: str) -> bool:
    """`expr;` as the last line: Jupyter's way of saying "do not echo this"."""
    lines = source.splitlines()
    end_line, end_col = getattr(stmt, "end_lineno", None), getattr(stmt, "end_col_offset", None)
    if end_line is None or end_col is None or end_line > len(lines):
        return False
    rest = lines[end_line - 1].encode("utf-8")[end_col:].decode("utf-8", "replace")
    return rest.lstrip().startswith(";")


def instrument(source: str, *, filename: str, first_line: int, lr_name: str = "lr") -> InstrumentedCell:
    """Parse, rewrite and compile one cell.

    Raises `SyntaxError` whose `lineno` is already a lesson-file line.
    """
    offset = first_line - 1
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        if exc.lineno is not None:
            exc.lineno += offset
            if getattr(exc, "end_lineno", None) is not None:
                exc.end_lineno += offset
        exc.filename = filename
        raise
    rewriter = _Rewriter(offset, lr_name)
    rewriter.module(tree, source)
    ast.fix_missing_locations(tree)
    ast.increment_lineno(tree, offset)
    code = compile(tree, filename, "exec", dont_inherit=True)
    return InstrumentedCell(code=code, loops=rewriter.loops, first_line=first_line)
