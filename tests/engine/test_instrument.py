"""The AST rewriting on its own: which hooks run, in which order, at which lines."""

from __future__ import annotations

import pytest

from tutor.engine import instrument as ins


def run(source: str, first_line: int = 1, lr_name: str = "lr", **extra):
    """Execute an instrumented cell with hooks that log what they see."""
    log: list[tuple] = []
    cell = ins.instrument(source, filename="/lessons/x.md", first_line=first_line, lr_name=lr_name)
    ns = {
        ins.PAUSE: lambda line: log.append(("stmt", line)),
        ins.ITER: lambda loop, line: log.append(("iter", loop, line)),
        ins.LOOP: lambda loop, iterable: iterable,
        ins.LOOP_END: lambda loop: log.append(("end", loop)),
        ins.CHECK: lambda: log.append(("check",)),
        ins.LR: lambda v: extra.get("override", v),
        ins.ECHO: lambda v: log.append(("echo", v)),
        ins.UPDATE: lambda line, target, operands: log.append(("update", line, target, operands)),
        ins.UPDATED: lambda line, target, source, op, names: log.append(("updated", line, target, source, op, names)),
        ins.FPAUSE: lambda line: log.append(("fstmt", line)),
        ins.FITER: lambda loop, line: log.append(("fiter", loop, line)),
        ins.FLOOP: lambda loop, iterable: iterable,
        ins.FLOOP_END: lambda loop: log.append(("fend", loop)),
        ins.FLOOP_ABORT: lambda loop: log.append(("fabort", loop)),
    }
    exec(cell.code, ns)
    return cell, ns, log


def test_hand_written_updates_are_wrapped_with_their_operands():
    source = (
        "class P:\n    data = 0\nW = 5.0\nlr = 0.5\ng = 2.0\np = P()\n"
        "W -= lr * g\np.data += 3 * -1\nW -= g + 1\nfor i in range(1):\n    W += 1\n"
        "W *= 2\nq = [1]\nq[0] -= 1\n"
    )
    _, ns, log = run(source, first_line=1)
    updates = [entry for entry in log if entry[0].startswith("update")]
    p = ns["p"]
    assert updates == [
        ("update", 7, 5.0, (0.5, 2.0)), ("updated", 7, 4.0, "W -= lr * g", "-", ("lr", "g")),
        ("update", 8, p, (3, -1)), ("updated", 8, p, "p.data += 3 * -1", "+", ("3", "-1")),
        ("update", 9, 4.0, ()), ("updated", 9, 1.0, "W -= g + 1", "-", ()),
        ("update", 11, 1.0, ()), ("updated", 11, 2.0, "W += 1", "+", ()),
    ]  # `*=` and subscripts are not updates
    assert ns["W"] == 4.0 and p.data == -3 and ns["q"] == [0]


def test_statement_points_use_lesson_lines():
    _, ns, log = run("a = 1\nb = a + 1\n", first_line=10)
    assert log == [("stmt", 10), ("stmt", 11)]
    assert ns["b"] == 2


def test_iteration_point_replaces_the_first_body_statement_point():
    source = "total = 0\nfor i in range(2):\n    total += i\n    total *= 2\ndone = True\n"
    cell, _, log = run(source, first_line=5)
    log = [entry for entry in log if not entry[0].startswith("update")]
    assert cell.loops == 1
    assert log == [
        ("stmt", 5), ("stmt", 6),
        ("iter", 0, 7), ("stmt", 8),
        ("iter", 0, 7), ("stmt", 8),
        ("end", 0),
        ("stmt", 9),
    ]


def test_break_and_continue_still_reach_the_loop_end_and_next_iteration():
    source = (
        "for i in range(5):\n"
        "    if i == 1:\n"
        "        continue\n"
        "    if i == 2:\n"
        "        break\n"
    )
    _, ns, log = run(source)
    assert [e for e in log if e[0] != "stmt"] == [("iter", 0, 2)] * 3 + [("end", 0)]
    assert ns["i"] == 2


def test_while_loops_and_nested_loops():
    source = "n = 0\nwhile n < 2:\n    for j in range(2):\n        n += 0\n    n += 1\n"
    cell, _, log = run(source)
    assert cell.loops == 1  # only top-level loops are steppable
    iters = [e for e in log if e[0] == "iter"]
    assert iters == [("iter", 0, 3), ("iter", 0, 3)]
    assert ("stmt", 4) in log  # nested loop body: statement points only


def test_two_top_level_loops_are_numbered():
    cell, _, log = run("for i in range(1):\n    pass\nfor j in range(1):\n    pass\n")
    assert cell.loops == 2
    assert [e for e in log if e[0] in ("iter", "end")] == [("iter", 0, 2), ("end", 0), ("iter", 1, 4), ("end", 1)]


def test_last_bare_expression_is_echoed_only_at_the_end():
    _, _, log = run("1 + 1\nx = 3\nx * 2\n")
    assert [e for e in log if e[0] == "echo"] == [("echo", 6)]


def test_a_trailing_semicolon_silences_the_echo():
    _, _, log = run("x = 2\nx * 2;  # quiet\n")
    assert not [e for e in log if e[0] == "echo"]
    _, _, log = run("s = '한;'\ns\n")
    assert [e for e in log if e[0] == "echo"] == [("echo", "한;")]


def test_lr_assignments_yield_the_override_in_cells_and_lesson_functions():
    source = ("lr = 0.1\nrate = lr\nif True:\n    lr: float = 0.2\ndef f():\n    lr = 0.3\n    return lr\n"
              "inner = f()\ndef g(x, lr=0.01):\n    return lr\nparam = g(1)\nkw = g(1, lr=0.5)\n")
    _, ns, _ = run(source, override=0.05)
    assert ns["rate"] == 0.05 and ns["lr"] == 0.05
    # a lesson function's `lr` (assigned or a parameter) is the lesson's lr too
    assert ns["inner"] == 0.05 and ns["param"] == 0.05 and ns["kw"] == 0.05
    _, ns, _ = run(source)
    assert (ns["inner"], ns["param"], ns["kw"]) == (0.3, 0.01, 0.5)


def test_custom_lr_name():
    _, ns, _ = run("alpha = 1.0\nlr = 2.0\n", lr_name="alpha", override=0.5)
    assert ns["alpha"] == 0.5 and ns["lr"] == 2.0


def test_function_bodies_get_statement_and_iteration_points():
    source = "def f(n):\n    t = 0\n    for i in range(n):\n        t += i\n    return t\nv = f(2)\n"
    _, ns, log = run(source, first_line=20)
    assert ns["v"] == 1
    log = [e for e in log if not e[0].startswith("update")]
    assert log == [
        ("stmt", 20), ("stmt", 25),  # the def, the call
        ("fstmt", 21), ("fstmt", 22),  # t = 0, the loop
        ("fiter", 22, 23), ("fiter", 22, 23),  # each iteration (loop named by its line)
        ("fend", 22), ("fstmt", 24),  # the loop's end, return
    ]


def test_a_function_loop_ending_by_return_or_exception_still_ends():
    source = (
        "def f():\n    for i in range(5):\n        if i == 1:\n            return i\n"
        "def g():\n    for i in range(5):\n        raise KeyError(i)\n"
        "a = f()\ntry:\n    g()\nexcept KeyError:\n    b = 1\n"
    )
    _, ns, log = run(source)
    ends = [e for e in log if e[0] in ("fend", "fabort")]
    assert ends == [("fend", 2), ("fabort", 6), ("fend", 6)] and ns["a"] == 1 and ns["b"] == 1


def test_only_top_level_functions_have_iteration_points():
    source = (
        "class M:\n    \"doc\"\n    def forward(self, x):\n        for i in range(2):\n            x += 1\n        return x\n"
        "    for k in range(2):\n        pass\n"
        "def outer():\n    def inner():\n        for j in range(2):\n            pass\n    inner()\n"
        "def batches():\n    for b in range(2):\n        yield b\n"
        "y = M().forward(0)\nouter()\nlist(batches())\n"
    )
    _, ns, log = run(source)
    assert ns["y"] == 2 and ns["M"].__doc__ == "doc"  # the docstring stays a docstring
    assert [e for e in log if e[0] in ("fiter", "fend")] == []  # methods, nested functions, generators
    assert log.count(("check",)) == 2  # the class body's own loop
    assert ("fstmt", 5) in log and ("fstmt", 11) in log and ("fstmt", 16) in log


def test_tracebacks_name_the_lesson_file_and_line():
    cell = ins.instrument("x = 1\n\ny = 1 / 0\n", filename="/lessons/x.md", first_line=40)
    ns = {ins.PAUSE: lambda line: None}
    with pytest.raises(ZeroDivisionError) as info:
        exec(cell.code, ns)
    frame = info.traceback[-1]
    assert str(frame.path) == "/lessons/x.md"
    assert frame.lineno + 1 == 42  # pytest's lineno is 0-based


def test_syntax_error_line_is_a_lesson_line():
    with pytest.raises(SyntaxError) as info:
        ins.instrument("x = 1\ny = (\n", filename="/lessons/x.md", first_line=30)
    assert info.value.lineno == 31
    assert info.value.filename == "/lessons/x.md"


def test_try_with_match_bodies_get_statement_points():
    source = (
        "try:\n    a = 1\nexcept Exception:\n    a = 2\nfinally:\n    b = 3\n"
        "match a:\n    case 1:\n        c = 4\n"
    )
    _, ns, log = run(source)
    assert [e[1] for e in log if e[0] == "stmt"] == [1, 2, 6, 7, 9]
    assert ns["c"] == 4


def test_future_imports_stay_first():
    _, ns, log = run("from __future__ import annotations\nx: int = 1\n")
    assert ns["x"] == 1 and log == [("stmt", 2)]
