"""The runner captures the graph of lesson code's backward() calls (RunState.backward,
`Backward` events): where the call was, names from the namespace and from a
function's locals, accumulation across calls, and replays that land on the same
graph."""

from __future__ import annotations

import json

import torch

from tutor.cli import main
from tutor.engine import events as ev
from tutor.engine.runner import Runner

TIMEOUT = 20

SEED = """
import torch
w = torch.tensor(2.0, requires_grad=True)
y = w ** 2
z = 2 * y + 5
z.backward()
"""

ACCUMULATE = """
import torch
v = torch.tensor(1.0, requires_grad=True)
for epoch in range(3):
    z = 2 * v
    z.backward()
"""


def test_state_shows_the_backward_just_run_with_the_lessons_names(make_lesson):
    lesson = make_lesson([SEED])
    runner = Runner(lesson)
    try:
        runner.next()  # the whole cell
        state = runner.wait(TIMEOUT)
        graph = state.backward
        assert graph is not None and graph.number == 1
        assert graph.cell == 0 and graph.line == lesson.cells[0].line + 4  # the z.backward() line
        assert [(n.op, n.name) for n in graph.nodes] == [
            ("AddBackward0", "z"), ("MulBackward0", None), ("PowBackward0", "y"), ("AccumulateGrad", "w"),
        ]
        assert graph.nodes[0].value == 13.0 and graph.nodes[1].edges[0].local == 2.0
        assert graph.nodes[3].grad == 8.0
    finally:
        runner.close()


def test_three_backward_calls_without_zero_grad_give_2_4_6(make_lesson):
    lesson = make_lesson([ACCUMULATE])
    events = []
    backward = torch.autograd.backward  # another test's runner, paused, may hold it replaced
    runner = Runner(lesson, on_event=events.append, graph_events=True)
    runner.run_to_end()
    graphs = [e.graph for e in events if isinstance(e, ev.Backward)]
    leaves = [g.nodes[1] for g in graphs]
    assert [(leaf.name, leaf.grad_before, leaf.grad) for leaf in leaves] == [
        ("v", None, 2.0), ("v", 2.0, 4.0), ("v", 4.0, 6.0)]
    assert [g.iteration for g in graphs] == [0, 1, 2] and [g.number for g in graphs] == [1, 2, 3]
    assert all(e.line == lesson.cells[0].line + 4 for e in events if isinstance(e, ev.Backward))
    assert torch.autograd.backward is backward  # put back after the run


def test_stepping_iterations_shows_each_backward(make_lesson):
    lesson = make_lesson([ACCUMULATE])
    runner = Runner(lesson)
    try:
        seen = []
        for _ in range(4):  # first iteration point, then one iteration each
            runner.next()
            state = runner.wait(TIMEOUT)
            if state.backward is not None:
                seen.append(state.backward.nodes[1].grad)
        assert seen == [2.0, 4.0, 6.0][: len(seen)] and len(seen) >= 2
    finally:
        runner.close()


def test_names_inside_a_lesson_function_come_from_its_locals(make_lesson):
    source = """
import torch
def train(epochs):
    weight = torch.tensor(3.0, requires_grad=True)
    for _ in range(epochs):
        loss = (weight * 4) ** 2
        loss.backward()
    return weight
trained = train(2)
"""
    lesson = make_lesson([source])
    runner = Runner(lesson)
    try:
        runner.run()  # (`n` now stops at each epoch inside train(): run to the end)
        graph = runner.wait(TIMEOUT).backward
        assert graph.number == 2
        assert [(n.op, n.name) for n in graph.nodes] == [
            ("PowBackward0", "loss"), ("MulBackward0", None), ("AccumulateGrad", "weight")]
        assert graph.line == lesson.cells[0].line + 5
        assert graph.nodes[2].grad == 2 * (2 * 12.0 * 4)  # two calls of d/dw (4w)^2 = 96
    finally:
        runner.close()


def test_a_replay_lands_on_the_same_backward(make_lesson):
    lesson = make_lesson([ACCUMULATE, "done = True"])
    runner = Runner(lesson)
    try:
        runner.run()
        final = runner.wait(TIMEOUT)
        assert final.status == "done"
        runner.goto(final.pause_index - 2)  # the third iteration's point
        runner.wait(TIMEOUT)
        runner.clear_history()
        runner.goto(final.pause_index - 3)  # replayed: the second backward is the last one
        state = runner.wait(TIMEOUT)
        assert state.iteration == 2 and state.backward.number == 2
        assert state.backward.nodes[1].grad == 4.0
    finally:
        runner.close()


def test_plain_headless_runs_capture_nothing(make_lesson):
    lesson = make_lesson([ACCUMULATE])
    state = Runner(lesson).run_to_end()
    assert state.backward is None


LESSON = """\
---
id: graph-cli
title:
  en: Graph
  ko: 그래프
---

```python
import torch
w = torch.tensor(2.0, requires_grad=True)
y = w ** 2
z = 2 * y + 5
z.backward()
print(w.grad)
```
"""


def test_tutor_run_jsonl_graph(tmp_path, capsys):
    path = tmp_path / "graph.md"
    path.write_text(LESSON, encoding="utf-8")
    assert main(["run", str(path), "--jsonl", "--graph"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    backward = [e for e in lines if e["event"] == "backward"]
    assert len(backward) == 1
    assert backward[0] == {
        "event": "backward", "cell": 0, "line": 13,
        "nodes": [
            {"id": 0, "op": "AddBackward0", "name": "z", "inputs": [1], "shape": [], "value": 13.0, "grad": 1.0},
            {"id": 1, "op": "MulBackward0", "name": None, "inputs": [2], "shape": [], "value": 8.0, "grad": 1.0},
            {"id": 2, "op": "PowBackward0", "name": "y", "inputs": [3], "shape": [], "value": 4.0, "grad": 2.0},
            {"id": 3, "op": "AccumulateGrad", "name": "w", "inputs": [], "shape": [], "value": 2.0, "grad": 8.0},
        ],
        "order": [0, 1, 2, 3],
    }
    assert main(["run", str(path), "--jsonl"]) == 0
    assert '"backward"' not in capsys.readouterr().out


def test_graph_without_jsonl_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "graph.md"
    path.write_text(LESSON, encoding="utf-8")
    assert main(["run", str(path), "--graph"]) == 2
    assert "--graph needs --jsonl" in capsys.readouterr().err


def test_preview_at_a_backward_line_and_of_the_cost_before_any_backward(make_lesson):
    source = """
import torch
w = torch.tensor(2.0, requires_grad=True)
cost = (3 * w) ** 2
cost.backward()
done = 1
"""
    lesson = make_lesson([source])
    first = lesson.cells[0].line
    runner = Runner(lesson)
    try:
        states = []
        for _ in range(5):
            runner.step()
            states.append(runner.wait(TIMEOUT))
        by_line = {s.line: s for s in states}
        at_cost = by_line[first + 2]  # `cost = ...` about to run: no cost yet
        assert at_cost.graph_preview is None
        at_call = by_line[first + 3]  # cost.backward() about to run
        preview = at_call.graph_preview
        assert at_call.backward is None and preview.order == () and preview.number == 0
        assert [(n.op, n.name) for n in preview.nodes] == [
            ("PowBackward0", "cost"), ("MulBackward0", None), ("AccumulateGrad", "w")]
        assert preview.nodes[0].value == 36.0 and preview.nodes[0].edges[0].local == 12.0  # 2·(3w)
        assert all(n.grad is None for n in preview.nodes)  # nothing ran yet
        after = by_line[first + 4]
        assert after.backward.nodes[2].grad == 36.0  # d(3w)²/dw = 18w
        assert after.graph_preview is None  # a backward ran: the view shows it
    finally:
        runner.close()


def test_preview_follows_the_inspected_tensor_before_any_backward(make_lesson):
    source = """
import torch
w = torch.tensor(2.0, requires_grad=True)
h = w * 5
cost = h ** 2
done = 1
"""
    lesson = make_lesson([source], cost="cost")
    runner = Runner(lesson)
    try:
        runner.next()
        state = runner.wait(TIMEOUT)
        assert state.graph_preview is None  # done: previews are for pauses
        runner.reset()
        for _ in range(5):
            runner.step()
            state = runner.wait(TIMEOUT)
        assert state.graph_preview.nodes[0].name == "cost"
        runner.inspect("h")
        runner.step_back()
        runner.wait(TIMEOUT)
        runner.step()
        state = runner.wait(TIMEOUT)
        assert state.graph_preview.nodes[0].name == "h" and state.graph_preview.nodes[0].value == 10.0
    finally:
        runner.close()


def test_inside_a_lesson_function_the_preview_uses_its_locals(make_lesson):
    source = """
import torch
def train(epochs):
    weight = torch.tensor(3.0, requires_grad=True)
    for _ in range(epochs):
        loss = (weight * 4) ** 2
        loss.backward()
    return weight
trained = train(2)
"""
    lesson = make_lesson([source])
    line = lesson.cells[0].line + 5  # loss.backward() inside train()
    runner = Runner(lesson)
    try:
        state = None
        for _ in range(30):
            runner.step()
            state = runner.wait(TIMEOUT)
            if state.line == line or state.status != "paused":
                break
        assert state.line == line  # paused inside train(), before loss.backward()
        preview = state.graph_preview
        assert [(n.op, n.name) for n in preview.nodes] == [
            ("PowBackward0", "loss"), ("MulBackward0", None), ("AccumulateGrad", "weight")]
    finally:
        runner.close()


def test_a_second_backward_through_a_freed_graph_fails_with_torchs_error(make_lesson):
    lesson = make_lesson(["import torch\nw = torch.tensor(2.0, requires_grad=True)\nz = w * w\n"
                          "z.backward()\nz.backward()\n"])
    events = []
    state = Runner(lesson, on_event=events.append, graph_events=True).run_to_end()  # captured
    assert sum(isinstance(e, ev.Backward) for e in events) == 1  # the first call's graph
    assert state.error is not None and state.error.type == "RuntimeError"
    assert "second time" in state.error.message and state.error.line == lesson.cells[0].line + 4


def test_states_with_graphs_survive_the_kernel_pipe(make_lesson):
    """RunState travels pickled from the kernel: the graph is plain data."""
    import pickle

    lesson = make_lesson([SEED])
    runner = Runner(lesson)
    try:
        runner.next()
        state = runner.wait(TIMEOUT)
        copy = pickle.loads(pickle.dumps(state))
        assert copy.backward == state.backward and copy.backward is not state.backward
        assert copy.backward.nodes[3].is_leaf
    finally:
        runner.close()
