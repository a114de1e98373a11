"""What capturing the autograd graph at backward() costs (engine/autograd_graph.py).

The graph is seed 003's softmax classifier cost (x_train 8x4, W 4x3, b, softmax,
cross entropy written out: 10 nodes). Plain: forward + `cost.backward()`. Captured:
the same forward, then `capture()` (walk, hooks on every node, the real backward,
plain data). Repetitions alternate; the numbers are medians per call. The runner
captures at most one backward() per GRAPH_INTERVAL in a free run, so the free-run
share is (captured - plain) / GRAPH_INTERVAL.

    .venv/bin/python bench/graph.py [--repeat 9] [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)

    import torch
    import torch.nn.functional as F

    from tutor.engine.autograd_graph import capture, lesson_names
    from tutor.engine.runner import GRAPH_INTERVAL

    torch.set_num_threads(1)
    x_train = torch.FloatTensor([[1, 2, 1, 1], [2, 1, 3, 2], [3, 1, 3, 4], [4, 1, 5, 5],
                                 [1, 7, 5, 5], [1, 2, 5, 6], [1, 6, 6, 6], [1, 7, 7, 7]])
    y_train = torch.LongTensor([2, 2, 2, 1, 1, 1, 0, 0])
    W = torch.zeros((4, 3), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)

    def forward() -> dict:
        hypothesis = F.softmax(x_train.matmul(W) + b, dim=1)
        y_one_hot = torch.zeros_like(hypothesis).scatter_(1, y_train.unsqueeze(1), 1)
        cost = (y_one_hot * -torch.log(hypothesis)).sum(dim=1).mean()
        return {"W": W, "b": b, "x_train": x_train, "hypothesis": hypothesis, "cost": cost}

    def plain() -> None:
        forward()["cost"].backward()

    nodes = [0]

    def captured() -> None:
        ns = forward()
        cost = ns["cost"]
        names, owners, types = lesson_names(ns)
        graph, _ = capture((cost,), lambda: torch.autograd.backward(cost), names=names,
                           owners=owners, module_types=types)
        nodes[0] = len(graph.nodes)

    def per_call(fn) -> float:
        started = time.perf_counter()
        for _ in range(args.calls):
            fn()
        return (time.perf_counter() - started) / args.calls

    plain_times, captured_times = [], []
    for _ in range(args.repeat):
        plain_times.append(per_call(plain))
        captured_times.append(per_call(captured))
    p, c = statistics.median(plain_times), statistics.median(captured_times)
    print(f"graph: {nodes[0]} nodes")
    print(f"plain forward+backward:    {p * 1e6:8.1f} us")
    print(f"captured forward+backward: {c * 1e6:8.1f} us  (+{(c - p) * 1e6:.1f} us, "
          f"{(c - p) / nodes[0] * 1e6:.1f} us per node)")
    print(f"free-run share while the graph view is shown (one capture per {GRAPH_INTERVAL} s): "
          f"{(c - p) / GRAPH_INTERVAL * 100:.2f} %; none while it is not")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
