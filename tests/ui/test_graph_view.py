"""The autograd graph view, standalone: tree, shared nodes, module boxes, the step
panel's numbers (torch's, captured), and snapshots at 80x24 in ko and en."""

from __future__ import annotations

import pytest
import torch
from textual.app import App
from torch import nn

from tutor.engine.autograd_graph import capture, lesson_names
from tutor.engine.backward_steps import is_backward_line, line_text, next_step, step_at
from tutor.ui.widgets.graph_view import GraphView, step_text, tree_text


def _graph(root, namespace, where=(1, 92, None), number=1):
    names, owners, types = lesson_names(namespace)
    graph, _ = capture((root,), lambda: torch.autograd.backward(root), names=names, owners=owners,
                       module_types=types, where=where, number=number)
    return graph


def seed_graph():
    w = torch.tensor(2.0, requires_grad=True)
    y = w**2
    z = 2 * y + 5
    return _graph(z, {"w": w, "y": y, "z": z})


def test_backward_lines_are_recognised():
    assert is_backward_line("cost.backward()")
    assert is_backward_line("    torch.autograd.backward([a, b])")
    assert is_backward_line("(2 * w).backward(retain_graph=True)")
    assert not is_backward_line("# cost.backward() later")
    assert not is_backward_line("optimizer.step()")


def test_line_text_finds_the_source_line(tmp_path):
    from tests.engine.conftest import build_lesson

    lesson = build_lesson(tmp_path / "l.md", ["import torch\nz = torch.ones(1)\nz.sum()"])
    first = lesson.cells[0].line
    assert line_text(lesson, 0, first + 1) == "z = torch.ones(1)"
    assert line_text(lesson, None, first + 1) == "z = torch.ones(1)"
    assert line_text(lesson, 0, first + 9) == "" and line_text(lesson, 0, None) == ""


def test_steps_follow_autograds_order_then_end_then_stop():
    graph = seed_graph()
    steps, step = [], None
    for _ in range(6):
        step = next_step(graph, step)
        steps.append(step)
    assert steps == [0, 1, 2, 3, 4, None]
    assert [step_at(graph, k).node.op for k in range(4)] == [
        "AddBackward0", "MulBackward0", "PowBackward0", "AccumulateGrad"]
    assert step_at(graph, 4) is None


def test_step_panel_states_the_local_rule_with_torchs_numbers():
    graph = seed_graph()
    assert "∂#1/∂y = 2 × upstream 1 → 2" in step_text(graph, 1, "en").plain
    assert "∂y/∂w = 4 × upstream 2 → 8" in step_text(graph, 2, "en").plain
    leaf = step_text(graph, 3, "en").plain
    assert "w.grad: None + 8 → 8" in leaf and "zero_grad" not in leaf
    assert "w.grad = 8" in step_text(graph, 4, "en").plain
    assert "위에서 온 기울기 1 → 2" in step_text(graph, 1, "ko").plain


def test_accumulating_leaf_says_zero_grad_was_left_out():
    v = torch.tensor(1.0, requires_grad=True)
    texts = []
    for n in range(3):
        z = 2 * v
        graph = _graph(z, {"v": v, "z": z}, number=n + 1)
        texts.append(step_text(graph, 1, "en").plain)
    assert "v.grad: None + 2 → 2" in texts[0]
    assert "v.grad: 2 + 2 → 4" in texts[1] and "zero_grad was left out" in texts[1]
    assert "v.grad: 4 + 2 → 6" in texts[2]


def test_tree_draws_shared_nodes_once_and_marks_the_step():
    a = torch.tensor(1.5, requires_grad=True)
    s = a * a
    e = s + a
    graph = _graph(e, {"a": a, "s": s, "e": e})
    plain = tree_text(graph, "en").plain
    assert plain.count("AccumulateGrad") == 1 and "↑#2 a" in plain
    assert ".grad 4" in plain  # d(a² + a)/da = 2a + 1 = 4
    stepping = tree_text(graph, "en", step=0, collapse=False).plain
    assert "▶#0" in stepping and ".grad" not in stepping


def test_modules_collapse_outside_stepping_and_expand_while_stepping():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1))
    x = torch.ones(3, 2)
    prediction = model(x)
    cost = ((prediction - 1) ** 2).mean()
    graph = _graph(cost, {"model": model, "x": x, "prediction": prediction, "cost": cost})
    collapsed = tree_text(graph, "en").plain
    assert "▣ model.0 (Linear)" in collapsed and "▣ model.2 (Linear)" in collapsed
    assert "AddmmBackward0" not in collapsed and "SigmoidBackward0" in collapsed
    expanded = tree_text(graph, "en", step=0, collapse=False).plain
    assert expanded.count("AddmmBackward0") == 2 and "model.0.weight" in expanded


class _GraphApp(App):
    def __init__(self, lang: str, graph, step) -> None:
        super().__init__()
        self.lang, self.graph, self.step = lang, graph, step

    def compose(self):
        yield GraphView(self.lang, id="graph")

    def on_mount(self) -> None:
        self.query_one(GraphView).show(self.graph, self.step)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_graph_view_snapshot(snap_compare, lang):
    v = torch.tensor(1.0, requires_grad=True)
    for n in range(2):  # the second call: w.grad accumulates
        z = 2 * v
        graph = _graph(z, {"v": v, "z": z}, where=(2, 123, n), number=n + 1)
    assert snap_compare(_GraphApp(lang, graph, 1), terminal_size=(80, 24))


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_graph_view_module_snapshot(snap_compare, lang):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1))
    x = torch.ones(3, 2)
    prediction = model(x)
    cost = ((prediction - 1) ** 2).mean()
    graph = _graph(cost, {"model": model, "x": x, "prediction": prediction, "cost": cost})
    assert snap_compare(_GraphApp(lang, graph, None), terminal_size=(80, 24))


def test_stepper_runs_the_call_at_a_backward_line_then_steps_its_pass(tmp_path):
    from dataclasses import replace

    from tests.engine.conftest import build_lesson
    from tutor.engine.backward_steps import BackwardStepper
    from tutor.engine.state import RunState

    lesson = build_lesson(tmp_path / "l.md", ["import torch\nz = torch.ones(1)\nz.backward()\nq = 1"])
    first = lesson.cells[0].line
    stepper = BackwardStepper()
    at_call = RunState(status="paused", cell=0, line=first + 2, pause_index=2)
    assert stepper.press(lesson, at_call) == "run" and stepper.step is None
    stepper.observe(replace(at_call, status="running"))
    assert stepper.waiting
    graph = seed_graph()
    after = RunState(status="paused", cell=0, line=first + 3, pause_index=3, backward=graph)
    stepper.observe(after)
    assert stepper.step == 0 and not stepper.waiting
    assert [stepper.press(lesson, after) or stepper.step for _ in range(5)] == ["step"] * 5
    assert stepper.step is None  # past the end: the whole graph again
    stepper.press(lesson, after)
    assert stepper.step == 0
    moved_on = replace(after, backward=replace(graph, number=2))
    stepper.observe(moved_on)
    assert stepper.step is None
    assert stepper.press(lesson, RunState(status="paused", cell=0, line=first, pause_index=0)) == "nothing"


async def test_graph_view_without_a_backward_says_so():
    from textual.widgets import Static

    app = _GraphApp("ko", None, None)
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause(0.05)
        head = str(app.query_one("#graph-head", Static).render())
        assert "아직 backward()가 없습니다" in head


async def test_stepping_a_tall_graph_keeps_the_current_node_in_sight():
    torch.manual_seed(0)
    x = torch.ones(2, requires_grad=True)
    h = x
    for _ in range(12):  # a chain of 25 nodes: taller than the pane
        h = torch.tanh(h * 1.1)
    cost = h.sum()
    graph = _graph(cost, {"x": x, "cost": cost})
    app = _GraphApp("en", graph, None)
    async with app.run_test(size=(60, 12)) as pilot:
        view = app.query_one(GraphView)
        scroll = app.query_one("#graph-scroll")
        last = len(graph.order) - 1
        view.show(graph, last)  # the leaf, at the bottom of the tree
        await pilot.pause(0.2)
        assert scroll.scroll_y > 0
        row = next(i for i, line in enumerate(tree_text(graph, "en", last, False).plain.split("\n")) if "▶" in line)
        assert scroll.scroll_y <= row < scroll.scroll_y + scroll.size.height
        assert "B 26/26" in str(app.query_one("#graph-step").render())  # the panel stays put
