"""Updates written out with their numbers, optimizer state and the inspected tensor,
each number checked against plain torch running the same code (micrograd's habit).

The lesson and the plain reference share one setup: a 3×3 `W`, data drawn from
seed 0, and a loop of `optimizer.step()` (or a hand-written update). The reference
runs the same statements in a plain namespace and keeps `W` before and after the
last step, its gradient, and the optimizer's state.
"""

from __future__ import annotations

import json

import pytest
import torch

from tutor.engine import jsonl
from tutor.engine.runner import Runner
from tutor.engine.state import UPDATE_ELEMENTS as K

SETUP = """\
import torch
torch.manual_seed(0)
W = torch.randn(3, 3, requires_grad=True)
x = torch.randn(4, 3)
y = torch.randn(4, 3)
"""

STEP_LOOP = """\
optimizer = {make}
for epoch in range({steps}):
    cost = ((x @ W - y) ** 2).mean()
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
"""


def plain_run(make: str, steps: int):
    """Plain torch: W before and after the last step, its grad, the optimizer."""
    ns: dict = {}
    exec(SETUP, ns)
    W, x, y = ns["W"], ns["x"], ns["y"]
    optimizer = eval(make, ns)
    for _ in range(steps):
        cost = ((x @ W - y) ** 2).mean()
        optimizer.zero_grad()
        cost.backward()
        before = W.detach().clone()
        grad = W.grad.detach().clone()
        state_before = {k: v.clone() for k, v in optimizer.state[W].items() if isinstance(v, torch.Tensor)}
        optimizer.step()
    return before, grad, W.detach().clone(), optimizer, state_before


def head(t: torch.Tensor) -> tuple[float, ...]:
    return tuple(float(v) for v in t.reshape(-1)[:K].to(torch.float64))


def run_updates(make_lesson, make: str, steps: int):
    """The lesson run to its end with updates captured (as for `tutor run --jsonl`)."""
    lesson = make_lesson([SETUP, STEP_LOOP.format(make=make, steps=steps)])
    events = []
    runner = Runner(lesson, on_event=events.append, record_every_iteration=True)
    state = runner.run_to_end()
    assert state.status == "done", state.error
    (update,) = state.updates
    assert update.name == "W" and update.shape == (3, 3) and update.numel == 9
    return update, state, events


def approx(values, expected, rel=1e-6):
    return values == pytest.approx(expected, rel=rel, abs=1e-9)


def test_sgd_update_equals_torch(make_lesson):
    update, _, _ = run_updates(make_lesson, "torch.optim.SGD([W], lr=0.1)", 3)
    before, grad, after, _, _ = plain_run("torch.optim.SGD([W], lr=0.1)", 3)
    assert update.rule == "sgd" and update.optimizer == "SGD"
    assert update.before == head(before) and update.after == head(after)
    assert update.term("lr") == 0.1 and update.term("grad") == head(grad)
    # the numbers written out give torch's result: W := W − lr × grad
    assert approx(tuple(b - 0.1 * g for b, g in zip(update.before, update.term("grad"))), update.after)
    assert update.iteration == 2


def test_sgd_momentum_update_and_buffer_equal_torch(make_lesson):
    make = "torch.optim.SGD([W], lr=0.05, momentum=0.9)"
    update, state, _ = run_updates(make_lesson, make, 4)
    before, grad, after, optimizer, state_before = plain_run(make, 4)
    buf = optimizer.state[W_of(optimizer)]["momentum_buffer"]
    assert update.rule == "momentum"
    assert update.before == head(before) and update.after == head(after) and update.term("grad") == head(grad)
    assert update.term("buf_before") == head(state_before["momentum_buffer"])
    assert update.term("buf") == head(buf)
    assert update.term("momentum") == 0.9
    assert approx(tuple(0.9 * b0 + g for b0, g in zip(update.term("buf_before"), update.term("grad"))), update.term("buf"))
    assert approx(tuple(p - 0.05 * b for p, b in zip(update.before, update.term("buf"))), update.after)
    # the state published with the run: the whole 3×3 buffer
    (opt,) = state.optimizers
    assert opt.type == "SGD" and opt.name == "optimizer" and opt.lr == 0.05
    assert dict(opt.options)["momentum"] == 0.9
    (bufview,) = opt.state_of("W")
    assert bufview.name == "momentum_buffer" and bufview.value == buf.tolist()


def W_of(optimizer):
    return optimizer.param_groups[0]["params"][0]


@pytest.mark.parametrize("kind", ["Adam", "AdamW"])
def test_adam_and_adamw_updates_equal_torch(make_lesson, kind):
    make = f"torch.optim.{kind}([W], lr=0.01, weight_decay=0.1)"
    update, _, _ = run_updates(make_lesson, make, 3)
    before, grad, after, optimizer, _ = plain_run(make, 3)
    st = optimizer.state[W_of(optimizer)]
    step = float(st["step"])
    m_hat = st["exp_avg"] / (1 - 0.9 ** step)
    v_hat = st["exp_avg_sq"] / (1 - 0.999 ** step)
    assert update.rule == kind.lower() and update.optimizer == kind
    assert update.before == head(before) and update.after == head(after) and update.term("grad") == head(grad)
    assert update.term("step") == step == 3.0
    assert update.term("m") == head(st["exp_avg"]) and update.term("v") == head(st["exp_avg_sq"])
    assert approx(update.term("m_hat"), head(m_hat)) and approx(update.term("v_hat"), head(v_hat))
    # torch's own result from the numbers shown (bias-corrected moments)
    start = before * (1 - 0.01 * 0.1) if kind == "AdamW" else before
    expected = start - 0.01 * m_hat / (v_hat.sqrt() + 1e-8)
    assert approx(head(expected), update.after, rel=1e-5)


def test_rmsprop_update_equals_torch(make_lesson):
    make = "torch.optim.RMSprop([W], lr=0.01)"
    update, _, _ = run_updates(make_lesson, make, 2)
    before, grad, after, optimizer, _ = plain_run(make, 2)
    v = optimizer.state[W_of(optimizer)]["square_avg"]
    assert update.rule == "rmsprop"
    assert update.after == head(after) and update.term("v") == head(v)
    assert approx(tuple(p - 0.01 * g / (sv ** 0.5 + 1e-8) for p, g, sv in
                        zip(update.before, update.term("grad"), update.term("v"))), update.after, rel=1e-5)


@pytest.mark.parametrize("make", [
    "torch.optim.RAdam([W], lr=0.01)",  # no formula: before, after and their difference
    "torch.optim.SGD([W], lr=0.1, maximize=True)",  # an option the formula does not cover
])
def test_other_optimizers_report_torch_difference(make_lesson, make):
    update, _, _ = run_updates(make_lesson, make, 2)
    before, _, after, _, _ = plain_run(make, 2)
    assert update.rule == "generic"
    assert update.before == head(before) and update.after == head(after)
    assert approx(update.term("delta"), head(before - after))


HAND = {
    "plain": ("W = torch.zeros(1)\nlr = 0.1\n", "    gradient = torch.sum((x_train * W - y_train) * x_train)\n    W -= lr * gradient\n"),
    "no_grad": ("W = torch.zeros(1, requires_grad=True)\nlr = 0.1\n",
                "    cost = torch.mean((x_train * W - y_train) ** 2)\n    cost.backward()\n"
                "    with torch.no_grad():\n        W -= lr * W.grad\n    W.grad.zero_()\n"),
    "data": ("W = torch.zeros(1, requires_grad=True)\nlr = 0.1\n",
             "    cost = torch.mean((x_train * W - y_train) ** 2)\n    cost.backward()\n"
             "    W.data -= lr * W.grad.data\n    W.grad.zero_()\n"),
}


@pytest.mark.parametrize("form", sorted(HAND))
def test_hand_written_update_equals_torch(make_lesson, form):
    setup, body = HAND[form]
    head_src = "import torch\nx_train = torch.FloatTensor([[1], [2], [3]])\ny_train = torch.FloatTensor([[2], [4], [6]])\n" + setup
    loop = "for epoch in range(3):\n" + body
    lesson = make_lesson([head_src, loop])
    runner = Runner(lesson)
    try:
        for _ in range(4):  # cell 0's end, then iteration points 0, 1, 2: two updates done
            runner.next()
            state = runner.wait(10)
        (update,) = state.updates
    finally:
        runner.close()
    # plain torch, the same statements
    ns: dict = {}
    exec(head_src, ns)
    exec("for epoch in range(2):\n" + body, ns)
    W = ns["W"].detach()
    assert update.rule == "manual" and update.name == "W" and update.iteration == 1
    assert update.operator == "-" and update.operands[0] == "lr"
    assert update.after == head(W)
    lr, g = (value for _, value in update.terms)
    assert lr == 0.1
    g = g if isinstance(g, tuple) else (g,)  # a one-element tensor is written as a number
    assert approx(tuple(b - lr * gi for b, gi in zip(update.before, g)), update.after)
    if form == "plain":  # lesson 03's numbers: W goes 0 → 2.8 → 1.68
        assert update.after == pytest.approx((1.68,), rel=1e-6)
        assert update.before == pytest.approx((2.8,), rel=1e-6)
        assert g == pytest.approx((11.2,), rel=1e-6)


def test_a_sum_into_a_plain_tensor_is_not_an_update(make_lesson):
    lesson = make_lesson(["import torch\ntotal = torch.zeros(1)\nfor i in range(3):\n    total += torch.ones(1)\n"])
    runner = Runner(lesson, on_event=lambda e: None, record_every_iteration=True)
    assert runner.run_to_end().updates == ()


def test_inspect_3x3_w_grad_and_momentum_buffer_equal_torch(make_lesson):
    """The inspector's numbers for a 3×3 W at iteration 3: value, grad, change since
    the previous pause and the momentum buffer, all whole, equal plain torch."""
    make = "torch.optim.SGD([W], lr=0.05, momentum=0.9)"
    lesson = make_lesson([SETUP, STEP_LOOP.format(make=make, steps=5)])
    runner = Runner(lesson)
    try:
        runner.inspect("W")
        for _ in range(5):  # cell 0's end, then iteration points 0..3: three steps done
            runner.next()
            state = runner.wait(10)
        assert state.iteration == 3
        shown = state.inspected
    finally:
        runner.close()
    previous_W = plain_run(make, 2)[2]
    before, grad, after, optimizer, _ = plain_run(make, 3)
    assert shown is not None and shown.name == "W" and not shown.missing
    v = shown.view
    assert v.shape == (3, 3) and v.dtype == "float32" and v.requires_grad and v.is_parameter
    assert v.value == after.tolist()
    assert v.grad == grad.tolist()  # zero_grad comes before backward: grad of the last step
    assert approx(sum(v.delta, []), sum((after - previous_W).tolist(), []))
    assert shown.grad_fn is None and shown.optimizer == "SGD"
    (buf,) = shown.state
    assert buf.name == "momentum_buffer" and buf.value == optimizer.state[W_of(optimizer)]["momentum_buffer"].tolist()
    f = after.to(torch.float64)
    assert shown.stats == pytest.approx({"mean": float(f.mean()), "std": float(f.std()),
                                         "min": float(f.min()), "max": float(f.max())})
    assert shown.grad_stats["norm"] == pytest.approx(float(grad.to(torch.float64).norm()))


def test_inspect_at_a_pause_and_after_the_end_and_unknown_names(make_lesson):
    lesson = make_lesson([SETUP, STEP_LOOP.format(make="torch.optim.SGD([W], lr=0.1)", steps=2)])
    runner = Runner(lesson)
    try:
        for _ in range(3):
            runner.next()
            state = runner.wait(10)
        assert state.inspected is None
        runner.inspect("cost")  # at a pause: the current state gets it at once
        shown = runner.state.inspected
        assert shown.name == "cost" and shown.grad_fn == "MeanBackward0" and shown.view.shape == ()
        runner.inspect("nothing")
        assert runner.state.inspected.missing
        runner.run()
        state = runner.wait(10)
        assert state.status == "done" and state.inspected.missing
        runner.inspect("x")  # after the end too
        assert runner.state.inspected.view.value == torch.tensor(plain_x()).tolist()
        runner.inspect(None)
        runner.reset()
        runner.next()
        assert runner.wait(10).inspected is None
    finally:
        runner.close()


def plain_x():
    ns: dict = {}
    exec(SETUP, ns)
    return ns["x"].tolist()


def test_inspected_tensor_is_whole_up_to_64x64_then_stats(make_lesson):
    lesson = make_lesson(["import torch\nA = torch.ones(64, 64)\nB = torch.ones(65, 64)\nprint('x')\n"])
    runner = Runner(lesson)
    try:
        runner.inspect("A")
        runner.run()
        assert runner.wait(10).status == "done"
        a = runner.state.inspected.view
        assert len(a.value) == 64 and len(a.value[0]) == 64
        runner.inspect("B")
        b = runner.state.inspected
        assert b.view.value is None and b.stats["mean"] == 1.0
        # the table keeps its 64-element limit
        assert all(t.value is None for t in runner.state.tensors if t.name in ("A", "B"))
    finally:
        runner.close()


def test_jsonl_iteration_carries_the_optimizer_state(make_lesson):
    make = "torch.optim.SGD([W], lr=0.05, momentum=0.9)"
    _, _, events = run_updates(make_lesson, make, 3)
    lines = [json.loads(jsonl.dumps(e)) for e in events]
    iterations = [d for d in lines if d["event"] == "iteration"]
    assert len(iterations) == 3
    for k, data in enumerate(iterations, start=1):
        _, _, _, optimizer, _ = plain_run(make, k)
        assert data["optimizer"]["type"] == "SGD" and data["optimizer"]["lr"] == 0.05
        assert data["optimizer"]["options"]["momentum"] == 0.9
        buf = optimizer.state[W_of(optimizer)]["momentum_buffer"]
        assert data["optimizer"]["state"]["W"]["momentum_buffer"] == buf.tolist()


def test_jsonl_adam_state_and_no_optimizer_key_without_one(make_lesson):
    _, _, events = run_updates(make_lesson, "torch.optim.Adam([W], lr=0.01)", 2)
    data = [json.loads(jsonl.dumps(e)) for e in events if type(e).__name__ == "Iteration"][-1]
    state = data["optimizer"]["state"]["W"]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"} and state["step"] == 2.0
    assert data["optimizer"]["options"]["betas"] == [0.9, 0.999]
    lesson = make_lesson(["import torch\nw = torch.ones(1)\nfor i in range(2):\n    cost = w.sum()\n"])
    events = []
    Runner(lesson, on_event=events.append, record_every_iteration=True).run_to_end()
    assert all("optimizer" not in jsonl.event_dict(e) for e in events if type(e).__name__ == "Iteration")


def test_updates_inside_a_lesson_function_equal_torch(make_lesson):
    """A `def train(...)` with an optimizer step and a hand-written update: both are
    written out with the frame's names, and their numbers are plain torch's."""
    source = (
        "import torch\n"
        "def train(epochs, lr):\n"
        "    W = torch.zeros(1, requires_grad=True)\n"
        "    b = torch.zeros(1, requires_grad=True)\n"
        "    opt = torch.optim.SGD([W], lr=lr, momentum=0.5)\n"
        "    for epoch in range(epochs):\n"
        "        cost = ((3 * W + b - 6) ** 2).mean()\n"
        "        opt.zero_grad()\n"
        "        cost.backward()\n"
        "        opt.step()\n"
        "        with torch.no_grad():\n"
        "            b -= lr * b.grad\n"
        "        b.grad = None\n"
        "    return W, b\n"
    )
    lesson = make_lesson([source, "W, b = train(5, 0.1)\n"])
    runner = Runner(lesson)
    try:
        for _ in range(4):  # cell 0's end, then train()'s iteration points 0, 1, 2
            runner.next()
            state = runner.wait(10)
        assert state.iteration == 2
        updates = {u.name: u for u in state.updates}
    finally:
        runner.close()
    ns: dict = {}
    exec(source, ns)
    W2, b2 = (t.item() for t in ns["train"](2, 0.1))
    W1, b1 = (t.item() for t in ns["train"](1, 0.1))
    assert updates["W"].rule == "momentum" and updates["W"].after == (W2,)
    assert updates["W"].before == (W1,)
    assert updates["b"].rule == "manual" and updates["b"].after == (b2,)
    assert updates["b"].before == (b1,) and updates["b"].source == "b -= lr * b.grad"


LONG = 3000


def test_a_free_run_copies_only_the_steps_it_shows(make_lesson, monkeypatch):
    """Copying a step costs about a third of a small training step: a free run copies
    those just before a publication and the loop's last ones, not all 3000; what it
    shows after a pause and at the end is still the step just made, equal to torch."""
    import tutor.engine.updates as updates

    copied = []
    real_grab = updates._grab
    monkeypatch.setattr(updates, "_grab", lambda t: copied.append(1) or real_grab(t))
    make = "torch.optim.SGD([W], lr=0.01)"
    lesson = make_lesson([SETUP, STEP_LOOP.format(make=make, steps=LONG)])
    runner = Runner(lesson)
    try:
        runner.next()
        runner.wait(30)
        runner.run()
        state = runner.wait(60)
        assert state.status == "done", state.error
        (update,) = state.updates
        before, grad, after, _, _ = plain_run(make, LONG)
        assert update.iteration == LONG - 1
        assert update.before == head(before) and update.after == head(after)
        assert update.term("grad") == head(grad)
        # 3 grabs per step (W, its grad, W after): far fewer than every step's
        assert len(copied) < 3 * LONG // 4, len(copied)

        runner.jump(1000)  # back, by a replay: it copies the steps near its target
        state = runner.wait(60)
        assert state.iteration == 1000
        (update,) = state.updates
        before, grad, after, _, _ = plain_run(make, 1000)
        assert update.iteration == 999
        assert update.before == head(before) and update.after == head(after)
    finally:
        runner.close()


def test_states_kept_during_a_free_run_show_their_own_step(make_lesson, monkeypatch):
    """Every state a free run keeps in its history (a step back shows it at once)
    carries the update of the iteration just before it, also when that iteration's
    step was not copied (here every other one, whatever the timing)."""
    from tutor.engine import runner as runner_module

    monkeypatch.setattr(runner_module._Run, "shows_next_step",
                        lambda self, p: self.iteration + 1 >= self.tail_from or self.iteration % 2 == 0)
    monkeypatch.setattr(runner_module, "PUBLISH_INTERVAL", 0.0)  # a publication at every point
    make = "torch.optim.SGD([W], lr=0.01)"
    lesson = make_lesson([SETUP, STEP_LOOP.format(make=make, steps=LONG)])
    runner = Runner(lesson)
    try:
        runner.run()
        assert runner.wait(60).status == "done"
        kept = [s for s, *_ in runner._history.values() if s.iteration is not None and s.updates]
        assert len(kept) > 3
        for s in kept:
            (update,) = s.updates
            assert update.iteration == s.iteration - 1
    finally:
        runner.close()
