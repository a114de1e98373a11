"""The landscape (engine/landscape.py): every number against plain torch computing
the same thing, the path against the run's own parameters, and the run untouched."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from tutor.engine import events as ev
from tutor.engine.jsonl import dumps
from tutor.engine.landscape import evaluate
from tutor.engine.landscape_plan import IMPURE, NO_COST, UNKNOWN_PARAM, plan_loop
from tutor.engine.runner import Runner

DATA = """
import torch
from torch import optim
x_train = torch.FloatTensor([[1], [2], [3]])
y_train = torch.FloatTensor([[2], [4], [6]])
W = torch.zeros(1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.01
optimizer = optim.SGD([W, b], lr=lr)
"""

SGD_LOOP = """
for epoch in range(EPOCHS):
    hypothesis = x_train * W + b
    cost = torch.mean((hypothesis - y_train) ** 2)
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
"""

HAND_1D = """
import torch
x_train = torch.FloatTensor([[1], [2], [3]])
y_train = torch.FloatTensor([[2], [4], [6]])
W = torch.zeros(1)
lr = 0.1
for epoch in range(10):
    hypothesis = x_train * W
    cost = torch.mean((hypothesis - y_train) ** 2)
    gradient = torch.sum((hypothesis - y_train) * x_train)
    print(f'{W.item():.3f}')
    W -= lr * gradient
"""

MODULE = """
import torch
import torch.nn as nn
import torch.nn.functional as F
x_train = torch.FloatTensor([[1], [2], [3]])
y_train = torch.FloatTensor([[2], [4], [6]])
model = nn.Linear(1, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
for epoch in range(30):
    prediction = model(x_train)
    cost = F.mse_loss(prediction, y_train)
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
"""


def run(lesson, **kwargs):
    events = []
    runner = Runner(lesson, on_event=events.append, record_every_iteration=True, **kwargs)
    state = runner.run_to_end()
    return state, events


def landscapes(events):
    return [e.landscape for e in events if isinstance(e, ev.LandscapeEvent)]


def test_critical_lr_of_w_b_sgd_is_2_over_lambda_max(make_lesson):
    lesson = make_lesson([DATA, SGD_LOOP.replace("EPOCHS", "20")])
    _, events = run(lesson, landscape=True)
    (land,) = landscapes(events)
    hessian = 2 * torch.tensor([[14 / 3, 2.0], [2.0, 1.0]], dtype=torch.float64)
    expected = 2 / float(torch.linalg.eigvalsh(hessian).max())
    assert land.critical_lr == pytest.approx(expected, rel=1e-5)
    assert round(land.critical_lr, 4) == 0.1803


def test_grid_values_equal_plain_torch(make_lesson):
    lesson = make_lesson([DATA, SGD_LOOP.replace("EPOCHS", "20")])
    _, events = run(lesson, landscape=True)
    (land,) = landscapes(events)
    (w_axis, b_axis) = land.axes
    assert (w_axis.name, b_axis.name) == ("W", "b")
    assert (len(w_axis.values), len(b_axis.values)) == (40, 20)
    x = torch.FloatTensor([[1], [2], [3]])
    y = torch.FloatTensor([[2], [4], [6]])
    for i in (0, 7, 39):
        for j in (0, 11, 19):
            w = torch.tensor([w_axis.values[i]], dtype=torch.float32)
            b = torch.tensor([b_axis.values[j]], dtype=torch.float32)
            plain = float(torch.mean((x * w + b - y) ** 2))
            assert land.cost[i][j] == pytest.approx(plain, rel=1e-6)
    # the gradient at the current point is autograd's on plain torch
    w = torch.tensor([land.point[0]], requires_grad=True)
    b = torch.tensor([land.point[1]], requires_grad=True)
    torch.mean((x * w + b - y) ** 2).backward()
    assert land.gradient == pytest.approx((float(w.grad), float(b.grad)), rel=1e-5, abs=1e-7)


def test_module_parameters_through_functional_call(make_lesson):
    lesson = make_lesson([MODULE])
    _, events = run(lesson, landscape=True)
    (land,) = landscapes(events)
    assert [a.name for a in land.axes] == ["model.weight", "model.bias"]
    x = torch.FloatTensor([[1], [2], [3]])
    y = torch.FloatTensor([[2], [4], [6]])
    for i, j in ((0, 0), (13, 5), (39, 19)):
        w = torch.tensor([[land.axes[0].values[i]]], dtype=torch.float32)
        b = torch.tensor([land.axes[1].values[j]], dtype=torch.float32)
        plain = float(torch.nn.functional.mse_loss(x @ w.T + b, y))
        assert land.cost[i][j] == pytest.approx(plain, rel=1e-6)
    assert land.critical_lr == pytest.approx(0.18029, rel=1e-4)


def test_path_equals_the_runs_parameters(make_lesson):
    lesson = make_lesson([DATA, SGD_LOOP.replace("EPOCHS", "12")])
    _, events = run(lesson, landscape=True)
    (land,) = landscapes(events)
    iterations = [e for e in events if isinstance(e, ev.Iteration)]
    assert len(land.path) == len(iterations) + 1
    assert land.path[0] == (0.0, 0.0)
    for k, it in enumerate(iterations):  # event k is recorded after iteration k's update
        values = {t.name: t.value for t in it.tensors}
        assert land.path[k + 1] == (values["W"][0], values["b"][0])
    assert land.point == land.path[-1]


def test_one_parameter_curve_steps_and_critical_lr_of_a_hand_gradient(make_lesson):
    lesson = make_lesson([HAND_1D])
    state, events = run(lesson, landscape=True)
    (land,) = landscapes(events)
    assert [a.name for a in land.axes] == ["W"] and len(land.cost) == 101
    ws = [p[0] for p in land.path]
    assert ws[:4] == pytest.approx([0.0, 2.8, 1.68, 2.128], abs=1e-5)  # the zig-zag
    # each step's cost is the run's own cost at that iteration
    assert land.path_cost[:10] == pytest.approx([c.cost for c in state.costs], rel=1e-6)
    x = torch.FloatTensor([[1], [2], [3]])
    y = torch.FloatTensor([[2], [4], [6]])
    for i in (0, 50, 100):
        w = torch.tensor([land.axes[0].values[i]], dtype=torch.float32)
        assert land.cost[i] == pytest.approx(float(torch.mean((x * w - y) ** 2)), rel=1e-6)
    # the update uses the lesson's own gradient Σ(Wx − y)x, whose derivative is Σx² = 14
    assert land.critical_lr == pytest.approx(2 / 14, rel=1e-6)


def test_events_identical_with_and_without_the_landscape(make_lesson):
    noisy = SGD_LOOP.replace("EPOCHS", "15").replace(
        "    hypothesis = x_train * W + b\n",
        "    noise = torch.randn(3, 1) * 0.01\n    hypothesis = x_train * W + b + noise\n",
    ) + "print(torch.rand(1).item())\nimport random\nprint(random.random())\n"
    lesson = make_lesson([DATA, noisy])
    _, plain = run(lesson)
    _, tracked = run(lesson, landscape=True)
    assert landscapes(tracked)
    lines = [dumps(e) for e in tracked if not isinstance(e, (ev.LandscapeEvent, ev.Done))]
    assert lines == [dumps(e) for e in plain if not isinstance(e, ev.Done)]


def test_stepping_publishes_the_landscape_and_leaves_grads_alone(make_lesson):
    lesson = make_lesson([DATA, SGD_LOOP.replace("EPOCHS", "5")])
    runner = Runner(lesson, landscape=True)
    try:
        for _ in range(4):
            runner.next()
            state = runner.wait(10)
        land = state.landscape
        assert land is not None and len(land.path) == state.iteration + 1
        grads = {t.name: t.grad for t in state.tensors}
        plain = Runner(lesson)
        for _ in range(4):
            plain.next()
            other = plain.wait(10)
        assert {t.name: t.grad for t in other.tensors} == grads
        assert [t.value for t in other.tensors] == [t.value for t in state.tensors]
        plain.close()
    finally:
        runner.close()


def test_more_parameters_use_principal_directions(make_lesson, sources):
    lesson = make_lesson([sources.SETUP, sources.LOOP_SGD.replace("EPOCHS", "30")])
    state, events = run(lesson, landscape=True)
    (land,) = landscapes(events)
    assert [a.name for a in land.axes] == ["PC1", "PC2"] and all(a.direction for a in land.axes)
    assert land.params == 3
    assert land.path[-1] == pytest.approx((0.0, 0.0), abs=1e-9)  # the slice is through the current point
    assert land.point_cost == pytest.approx(
        float(torch.mean((torch.FloatTensor([[1.0, 2.0], [2.0, 1.0], [3.0, 4.0]]).matmul(
            torch.tensor([[v[0]] for v in next(t.value for t in state.tensors if t.name == "W")]))
            + torch.tensor(next(t.value for t in state.tensors if t.name == "b"))
            - torch.FloatTensor([[3.0], [3.0], [7.5]])) ** 2)), rel=1e-5)
    assert land.axes[0].explained > 0.5


def test_front_matter_names_the_axes(make_lesson, sources):
    lesson = make_lesson([sources.SETUP, sources.LOOP_SGD.replace("EPOCHS", "10")])
    lesson = dataclasses.replace(lesson, landscape=("W[1, 0]", "b"))
    state, events = run(lesson, landscape=True)
    (land,) = landscapes(events)
    assert [a.name for a in land.axes] == ["W[1, 0]", "b"]
    w = next(t.value for t in state.tensors if t.name == "W")
    assert land.point[0] == pytest.approx(w[1][0])
    wrong = dataclasses.replace(lesson, landscape=("V",))
    state, events = run(wrong, landscape=True)
    assert not landscapes(events) and state.landscape_problem == UNKNOWN_PARAM


def test_loops_without_a_safe_cost_have_none(make_lesson):
    assert plan_loop("for i in range(3):\n    print(i)\n", 0, cost_name=None).problem == NO_COST
    impure = "for i in range(3):\n    batch = next(it)\n    cost = (batch * W).sum()\n"
    assert plan_loop(impure, 0, cost_name=None).problem == IMPURE
    inplace = "for i in range(3):\n    x_train.add_(1)\n    cost = (x_train * W).sum()\n"
    assert plan_loop(inplace, 0, cost_name=None).problem == IMPURE
    ok = "for i in range(3):\n    y = torch.zeros(3)\n    y.scatter_(0, idx, 1)\n    cost = (y * W).sum()\n"
    plan = plan_loop(ok, 0, cost_name=None)
    assert plan.problem is None and len(plan.lines) == 3


def test_per_point_fallback_where_vmap_refuses():
    def f(theta):  # .item() inside vmap raises: evaluated one point at a time
        return torch.tensor((theta ** 2).sum().item())

    thetas = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    assert evaluate(f, thetas) == [5.0, 10.0]


def test_nonfinite_cost_names_the_critical_lr(make_lesson):
    lesson = make_lesson([DATA, SGD_LOOP.replace("EPOCHS", "200")])
    state = Runner(lesson, lr_override=0.3, landscape=True).run_to_end()
    assert state.costs and not math.isfinite(state.costs[-1].cost)
    assert state.nonfinite.lr == 0.3 and state.nonfinite.critical_lr == pytest.approx(0.1803, abs=1e-4)


def test_jsonl_landscape_event_schema(make_lesson):
    lesson = make_lesson([DATA, SGD_LOOP.replace("EPOCHS", "3")])
    _, events = run(lesson, landscape=True)
    (event,) = [e for e in events if isinstance(e, ev.LandscapeEvent)]
    data = json.loads(dumps(event))
    assert data["event"] == "landscape" and data["cell"] == 1 and data["iteration"] == 2
    assert [a["name"] for a in data["axes"]] == ["W", "b"]
    assert len(data["cost"]) == 40 and len(data["cost"][0]) == 20
    assert len(data["path"]) == 4 and data["critical_lr"] == pytest.approx(0.1803, abs=1e-4)


FRONT = "---\nid: fm\ntitle:\n  en: T\n  ko: 티\n{extra}---\n\n```python\nx = 1\n```\n"


@pytest.mark.parametrize("extra, expected", [
    ("landscape: [W, b]\n", ("W", "b")),
    ("landscape:\n  - model.linear.weight[0, 0]\n  - model.linear.bias\n",
     ("model.linear.weight[0, 0]", "model.linear.bias")),
    ("landscape: W\n", ("W",)),
])
def test_front_matter_landscape_key(tmp_path, extra, expected):
    from tutor.engine.loader import analyse

    path = tmp_path / "fm.md"
    path.write_text(FRONT.format(extra=extra), encoding="utf-8")
    result = analyse(path)
    assert not result.errors
    assert result.lesson.landscape == expected


@pytest.mark.parametrize("extra, message", [
    ("landscape: [W, b, c]\n", "one or two"),
    ("landscape: [1]\n", "not a parameter name"),
    ("landscape: ['W[x]']\n", "not a parameter name"),
    ("landscape: [W, W]\n", "twice"),
])
def test_front_matter_landscape_key_errors(tmp_path, extra, message):
    from tutor.engine.loader import analyse

    path = tmp_path / "fm.md"
    path.write_text(FRONT.format(extra=extra), encoding="utf-8")
    errors = analyse(path).errors
    assert len(errors) == 1 and message in errors[0].message and errors[0].line == 6


def test_cli_landscape_needs_jsonl(tutor_cli):
    code, out, err = tutor_cli("run", "gradient-descent", "--landscape")
    assert code == 2 and out == "" and "--landscape needs --jsonl" in err


def test_the_range_holds_the_path_also_when_the_run_leaves_the_bowl(make_lesson):
    lesson = make_lesson([HAND_1D.replace("range(10)", "range(8)")])
    state = Runner(lesson, lr_override=0.3, landscape=True).run_to_end()
    land = state.landscape
    ws = [p[0] for p in land.path]
    assert max(abs(w - 2) for w in ws[-3:]) > 100  # each step overshoots further
    values = land.axes[0].values
    assert values[0] <= min(ws) and max(ws) <= values[-1]
    assert land.critical_lr == pytest.approx(1 / 7) and land.critical_lr < 0.3


def test_kept_states_share_their_path_points(make_lesson):
    lesson = make_lesson([DATA, SGD_LOOP.replace("EPOCHS", "6")])
    runner = Runner(lesson, landscape=True)
    try:
        runner.next()
        runner.wait(10)
        runner.next()
        first = runner.wait(10).landscape
        runner.next()
        second = runner.wait(10).landscape
        assert len(second.path) == len(first.path) + 1
        assert all(a is b for a, b in zip(first.path, second.path))
    finally:
        runner.close()


def test_big_models_get_smaller_grids():
    from tutor.engine.landscape import grid_sizes

    assert grid_sizes(2, 8) == (40, 20) and grid_sizes(1, 8) == (101,)
    assert grid_sizes(2, 130_000) == (16, 8)  # a 784-100-10 MLP on 64 samples
    assert grid_sizes(2, 10**9) == (10, 5) and grid_sizes(1, 10**9) == (21,)


def _count_calls(monkeypatch, owner, name):
    calls = []
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_a_free_run_recomputes_the_landscape_only_while_it_is_looked_at(make_lesson, monkeypatch):
    """The surface (a grid of costs and the Hessian's λmax) is about a tenth of a
    small model's free run: it follows the run only while the landscape view is
    shown; a pause still carries it exact for its point, and showing the view at a
    pause that carries an older one recomputes it at once."""
    from tutor.engine.landscape import LandscapeTracker

    computed = _count_calls(monkeypatch, LandscapeTracker, "_compute")
    monkeypatch.setattr("tutor.engine.runner.PUBLISH_INTERVAL", 0.0)  # a publication at every point
    monkeypatch.setattr("tutor.engine.landscape.MIN_INTERVAL", 0.0)
    lesson = make_lesson([DATA, SGD_LOOP.replace("EPOCHS", "300")])
    counts = {}
    for view in ("cost", "landscape"):
        computed.clear()
        runner = Runner(lesson, landscape=True, view=view)
        try:
            runner.run()
            state = runner.wait(60)
            assert state.status == "done"
            counts[view] = len(computed)
        finally:
            runner.close()
    assert counts["cost"] <= 3 < 20 < counts["landscape"], counts

    runner = Runner(lesson, landscape=True)  # the cost plot shown
    try:
        runner.run()
        assert runner.wait(60).status == "done"
        runner.jump(150)  # back: a replay to a point no one computed the landscape at
        state = runner.wait(60)
        values = {t.name: t.value for t in state.tensors}
        here = (values["W"][0], values["b"][0])
        stale = state.landscape
        runner.show_view("landscape")
        land = runner.wait(10).landscape
        assert land is not None and land.point == pytest.approx(here, rel=1e-6)
        assert land.path[-1] == land.point and len(land.path) == 151
        assert stale is None or stale.point != land.point or stale is land
    finally:
        runner.close()


# The cost calls functions the lesson defines (a module's forward, a helper with a
# loop of its own): the landscape evaluates them too.
OWN_FUNCTIONS = """
import torch
import torch.nn as nn
x_train = torch.FloatTensor([[1], [2], [3]])
y_train = torch.FloatTensor([[2], [4], [6]])

class Line(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        out = self.linear(x)
        print("forward", tuple(out.shape))  # a debug print, as notebooks leave them
        return out

def mean_square(errors):
    total = 0
    for e in errors:
        total = total + e ** 2
    return total / len(errors)

torch.manual_seed(0)
model = Line()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
for epoch in range(EPOCHS):
    cost = mean_square(model(x_train) - y_train)
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
"""


def test_the_lessons_own_functions_called_by_the_landscape_leave_the_run_alone(make_lesson, monkeypatch):
    """A landscape evaluates the lesson's cost statements, which call functions the
    lesson defines (rewritten with hooks like all its code). Their hooks count nothing
    then: the run's pause points (which step back, goto and checkpoints count on) and
    its costs are the same with the landscape computed at every publication as
    without it, and a publication inside such a call does not compute the landscape
    again inside itself (it did: lesson 10's free run computed it 52 times, 10 s)."""
    from tutor.engine.landscape import LandscapeTracker

    computed = _count_calls(monkeypatch, LandscapeTracker, "_compute")
    monkeypatch.setattr("tutor.engine.runner.PUBLISH_INTERVAL", 0.0)  # a publication at every point
    monkeypatch.setattr("tutor.engine.landscape.MIN_INTERVAL", 0.0)
    lesson = make_lesson([OWN_FUNCTIONS.replace("EPOCHS", "40")])
    ends = {}
    for landscape in (False, True):
        runner = Runner(lesson, landscape=landscape, view="landscape")
        try:
            runner.run()
            state = runner.wait(60)
            assert state.status == "done", state.error
            ends[landscape] = (state.pause_index, [c.cost for c in state.costs], state.outputs)
            if landscape:
                assert state.landscape is not None and len(state.landscape.path) == 41
        finally:
            runner.close()
    assert ends[True] == ends[False]  # also what it printed: forward() ran by the landscape prints nothing
    assert len(ends[False][1]) == 40 and ends[False][2][0] == "forward (3, 1)\n" * 40
    # at most one computation per publication, none inside another
    assert 0 < len(computed) <= ends[True][0] + 2

    # stepping statement by statement, into forward() and the helper's loop: the same
    # stops, with the landscape computed at each, as without it
    stops = {}
    for landscape in (False, True):
        runner = Runner(lesson, landscape=landscape, view="landscape")
        try:
            seen = []
            for _ in range(60):
                runner.step()
                state = runner.wait(10)
                seen.append((state.line, state.pause_index, state.iteration))
            stops[landscape] = seen
        finally:
            runner.close()
    assert stops[True] == stops[False]
    text = lesson.path.read_text(encoding="utf-8").splitlines()
    inside = {text.index("        out = self.linear(x)") + 1, text.index("        total = total + e ** 2") + 1}
    assert {line for line, _, _ in stops[True]} >= inside  # forward's body, the helper's loop


def test_a_free_run_captures_backward_graphs_only_while_the_graph_is_looked_at(make_lesson, monkeypatch):
    """Capturing a backward() costs ~0.1 ms a node: a free run captures them a few times
    a second only while the graph view is shown; a loop's last iterations always."""
    import tutor.engine.autograd_graph as graph
    from tutor.engine import runner as runner_module

    captured = _count_calls(monkeypatch, graph, "capture")
    monkeypatch.setattr(runner_module, "GRAPH_INTERVAL", 0.0)  # whenever allowed
    lesson = make_lesson([DATA, SGD_LOOP.replace("EPOCHS", "300")])
    counts = {}
    for view in ("plot", "graph"):
        captured.clear()
        runner = Runner(lesson, view=view)
        try:
            runner.run()
            state = runner.wait(60)
            assert state.status == "done" and state.backward is not None
            counts[view] = len(captured)
        finally:
            runner.close()
    assert counts["plot"] <= runner_module.TAIL_POINTS + 1 < 100 < counts["graph"], counts
