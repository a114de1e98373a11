"""The autograd graph captured at backward(): structure, gradients, local rules,
names, modules, and that the real pass runs once with every hook removed after.

torch is the reference everywhere: the structure is compared with a walk of
`next_functions`, every gradient with `torch.autograd.grad` of the root.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tutor.engine import autograd_graph as ag
from tutor.engine.autograd_graph import capture, intercept_backward, lesson_names


def _capture(root, namespace, **kwargs):
    names, owners, types = lesson_names(namespace)
    graph, _ = capture((root,), lambda: torch.autograd.backward(root, **kwargs), names=names,
                       owners=owners, module_types=types)
    return graph


def _flat(value):
    if isinstance(value, list):
        return [x for v in value for x in _flat(v)]
    return [value]


def _close(got, expected: torch.Tensor) -> bool:
    want = expected.detach().reshape(-1).tolist()
    have = _flat(got)
    return len(have) == len(want) and all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7) for a, b in zip(have, want))


def _assert_same_structure(graph, root: torch.Tensor) -> None:
    """Each node's op and inputs are torch's own: node id i <-> one torch Node."""
    seen: dict[int, object] = {}  # id -> torch node
    back: dict[object, int] = {}

    def check(i, fn):
        if i in seen:
            assert seen[i] is fn
            return
        assert fn not in back, "a torch node drawn twice"
        seen[i], back[fn] = fn, i
        node = graph.nodes[i]
        assert node.op == fn.name().rsplit("::", 1)[-1]
        children = [c for c, _ in fn.next_functions if c is not None]
        assert len(node.inputs) == len(children)
        for to, child in zip(node.inputs, children):
            check(to, child)

    check(graph.roots[0], root.grad_fn)
    assert len(seen) == len(graph.nodes)  # nothing extra, nothing missed


def _seed_example():
    w = torch.tensor(2.0, requires_grad=True)
    y = w**2
    z = 2 * y + 5
    return w, y, z


def test_seed_example_values_order_and_local_rules():
    w, y, z = _seed_example()
    graph = _capture(z, {"w": w, "y": y, "z": z})
    _assert_same_structure(graph, z)
    ops = [n.op for n in graph.nodes]
    assert ops == ["AddBackward0", "MulBackward0", "PowBackward0", "AccumulateGrad"]
    add, mul, pow_, leaf = graph.nodes
    assert (add.name, mul.name, pow_.name, leaf.name) == ("z", None, "y", "w")
    assert add.value == 13.0 and pow_.value == 4.0 and leaf.value == 2.0
    assert mul.value == 8.0  # 2y, unnamed: recomputed from y
    assert graph.order == (0, 1, 2, 3)  # autograd's own order
    # z = 2y + 5: the gradient arriving at 2y is 1; dz/dy = 2, times 1 -> 2 at y
    assert add.grad == 1.0 and add.edges[0].local == 1.0 and add.edges[0].grad == 1.0
    assert mul.grad == 1.0 and mul.edges[0].local == 2.0 and mul.edges[0].grad == 2.0
    # y = w²: dy/dw = 2w = 4, times 2 -> 8
    assert pow_.grad == 2.0 and pow_.edges[0].local == 4.0 and pow_.edges[0].grad == 8.0
    assert leaf.grad == 8.0 and leaf.arrived == 8.0 and leaf.grad_before is None
    assert w.grad.item() == 8.0


def test_grads_equal_autograd_grad_of_root_for_every_intermediate():
    torch.manual_seed(0)
    x = torch.randn(4, 3)
    W = torch.randn(3, 2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    h = x @ W + b
    a = torch.sigmoid(h)
    s = a * a  # a reaches s twice: one node, two edges
    e = torch.exp(-s)
    d = e / (1 + a)
    cost = (d - 0.5).pow(2).mean()
    named = {"x": x, "W": W, "b": b, "h": h, "a": a, "s": s, "e": e, "d": d, "cost": cost}
    inter = ["h", "a", "s", "e", "d"]
    expected = torch.autograd.grad(cost, [named[k] for k in inter] + [W, b], retain_graph=True)
    graph = _capture(cost, named)
    _assert_same_structure(graph, cost)
    by_name = {n.name: n for n in graph.nodes if n.name}
    for key, want in zip(inter + ["W", "b"], expected):
        assert _close(by_name[key].grad, want), key
    assert _close(by_name["W"].grad, W.grad) and _close(by_name["b"].grad, b.grad)
    # a is used by MulBackward0 (twice) and by the division: one node only
    assert sum(1 for n in graph.nodes if n.name == "a") == 1
    assert len(graph.order) == len(graph.nodes)


@pytest.mark.parametrize("expr", [
    "w + v", "w - v", "3 - w", "w * v", "w / v", "w ** 3", "w ** v", "2 ** w", "-w", "w.exp()",
    "w.log()", "torch.sigmoid(w)", "w.tanh()", "torch.relu(w - 1.5)", "w.sqrt()", "(w - 1.5).abs()",
    "w.mean()", "w.sum()", "w * 2", "(w * v).sum() + w.mean()",
])
def test_local_rule_times_upstream_is_torchs_gradient(expr):
    """For every edge with a local rule: local × upstream (summed to the input's
    shape) equals the gradient torch sent along that edge."""
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    out = eval(expr)
    root = out.sum() if out.dim() else out
    graph = _capture(root, {"w": w, "v": v, "out": out})
    stated = 0
    for node in graph.nodes:
        for edge in node.edges:
            if edge.local is None:
                continue
            stated += 1
            target = graph.nodes[edge.to]
            upstream = torch.tensor(node.grad, dtype=torch.float64)
            product = torch.tensor(edge.local, dtype=torch.float64) * upstream
            shape = torch.Size(target.shape)
            if product.numel() < shape.numel():  # a reduction (sum, mean): spread back
                product = product.expand(shape)
            product = product.sum_to_size(shape) if shape else product.sum()
            assert _close(edge.grad, product), (node.op, edge)
    top = graph.nodes[graph.roots[0]]
    if top.op != "SumBackward0" or expr.endswith(".sum()"):
        assert stated > 0


def test_three_backward_calls_without_zero_grad_accumulate():
    v = torch.tensor(1.0, requires_grad=True)
    seen = []
    for _ in range(3):
        z = 2 * v
        graph = _capture(z, {"v": v, "z": z})
        leaf = graph.nodes[1]
        seen.append((leaf.grad_before, leaf.arrived, leaf.grad))
        assert graph.nodes[0].edges[0].local == 2.0
    assert seen == [(None, 2.0, 2.0), (2.0, 2.0, 4.0), (4.0, 2.0, 6.0)]


def test_hooks_removed_and_backward_runs_once(monkeypatch):
    w, y, z = _seed_example()
    calls = []
    real = torch.autograd.backward

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    names, owners, types = lesson_names({"w": w, "z": z})
    graph, _ = capture((z,), lambda: counted(z, retain_graph=True), names=names)
    assert len(calls) == 1 and w.grad.item() == 8.0
    clones = []
    monkeypatch.setattr(ag, "_clone", lambda t: clones.append(t))
    z.backward()  # a later plain backward: no hook of ours fires
    assert clones == [] and w.grad.item() == 16.0
    assert graph.order == (0, 1, 2, 3)


def test_intercept_restores_torch_and_ignores_other_threads():
    import threading

    # What it is before: a paused Runner of another test (same process) may hold it
    # replaced already (the replacement is process-wide, reference counted).
    original = torch.autograd.backward
    got = []

    def handler(roots, run, frame):
        got.append(roots)
        return run()

    other = []
    w = torch.tensor(3.0, requires_grad=True)
    with intercept_backward(handler):
        assert torch.autograd.backward is ag._backward
        (w * 2).backward()  # Tensor.backward goes through torch.autograd.backward
        thread = threading.Thread(target=lambda: other.append((w * 3).backward()))
        thread.start()
        thread.join()
    assert torch.autograd.backward is original
    assert len(got) == 1 and w.grad.item() == 5.0


def test_modules_collapse_by_their_parameters():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1))
    x = torch.ones(3, 2)
    prediction = model(x)
    cost = ((prediction - torch.zeros(3, 1)) ** 2).mean()
    graph = _capture(cost, {"model": model, "x": x, "prediction": prediction, "cost": cost})
    _assert_same_structure(graph, cost)
    by_op: dict[str, list] = {}
    for n in graph.nodes:
        by_op.setdefault(n.op, []).append(n)
    assert sorted(n.module for n in by_op["AddmmBackward0"]) == ["model.0", "model.2"]
    assert sorted(n.module for n in by_op["TBackward0"]) == ["model.0", "model.2"]
    assert by_op["SigmoidBackward0"][0].module is None  # no parameters of its own
    assert by_op["MeanBackward0"][0].module is None and by_op["MeanBackward0"][0].name == "cost"
    leaves = {n.name: n for n in by_op["AccumulateGrad"]}
    assert set(leaves) == {"model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"}
    for name, param in model.named_parameters():
        assert _close(leaves[f"model.{name}"].grad, param.grad)
    assert dict(graph.modules) == {"model.0": "Linear", "model.2": "Linear"}


def test_big_tensors_keep_first_values_only():
    w = torch.arange(100.0, requires_grad=True)
    cost = (w * 2).sum()
    graph = _capture(cost, {"w": w, "cost": cost})
    leaf = graph.nodes[-1]
    assert leaf.value is None and leaf.grad is None and leaf.first == (0.0, 1.0, 2.0, 3.0)
    assert leaf.shape == (100,)


def test_backward_errors_stay_torchs_own():
    x = torch.tensor(1.0)  # needs no grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        _capture(x * 2, {"x": x})


def test_two_roots_share_their_leaf_once():
    w = torch.tensor(3.0, requires_grad=True)
    a = w * 2
    b = w**2
    names, owners, types = lesson_names({"w": w, "a": a, "b": b})
    graph, _ = capture((a, b), lambda: torch.autograd.backward([a, b]), names=names)
    assert [graph.nodes[r].name for r in graph.roots] == ["a", "b"]
    leaves = [n for n in graph.nodes if n.is_leaf]
    assert len(leaves) == 1 and leaves[0].grad == 2.0 + 6.0 and w.grad.item() == 8.0
