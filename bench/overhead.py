"""What running through the engine costs: a 1000-epoch loop bare vs stepped engine.

The loop is seed 003's softmax classifier trained by hand (x_train 8x4, W zeros
4x3, b zeros, SGD lr 0.1, cross entropy written out). Bare: the same source
compiled normally and exec'd in this thread. Engine: the same source as a lesson
file, run freely as the app runs it: a `KernelClient`, the Runner in a kernel
process forked from a zygote (pause points counted and checked, iterations
recorded, state published every ~50 ms with a tensor snapshot and sent over the
socket, checkpoints forked), timed from `run()` until the client shows the run
done. Repetitions alternate in pairs so both see the same machine load; the ratio
is the median of the pair ratios engine / bare. Target: overhead ratio <= 1.2.

The same is measured for the loop inside a function defined in one cell and called
from the next (`def train(): ...` then `train()`), where the engine stops inside the
function's body (statement and iteration points with the function's frame).

    .venv/bin/python bench/overhead.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET = 1.2
SETTLE = 0.1  # seconds between the setup's end and the timed run
HOST = None  # the KernelHost (one zygote for the whole bench)

SETUP = """\
import torch
import torch.nn.functional as F
import torch.optim as optim

x_train = torch.FloatTensor([[1, 2, 1, 1], [2, 1, 3, 2], [3, 1, 3, 4], [4, 1, 5, 5],
                             [1, 7, 5, 5], [1, 2, 5, 6], [1, 6, 6, 6], [1, 7, 7, 7]])
y_train = torch.LongTensor([2, 2, 2, 1, 1, 1, 0, 0])
"""

TRAIN = """\
W = torch.zeros((4, 3), requires_grad=True)
b = torch.zeros(1, requires_grad=True)
optimizer = optim.SGD([W, b], lr=0.1)

nb_epochs = 1000
for epoch in range(nb_epochs + 1):
    hypothesis = F.softmax(x_train.matmul(W) + b, dim=1)
    y_one_hot = torch.zeros_like(hypothesis)
    y_one_hot.scatter_(1, y_train.unsqueeze(1), 1)
    cost = (y_one_hot * -torch.log(hypothesis)).sum(dim=1).mean()
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
    if epoch % 100 == 0:
        print('Epoch {:4d}/{} Cost: {:.6f}'.format(epoch, nb_epochs, cost.item()))
"""

# The same loop inside a function (as real notebooks write it), called from its own cell.
TRAIN_FN = "def train(x_train, y_train, nb_epochs):\n" + "".join(
    "    " + line + "\n" for line in TRAIN.splitlines() if not line.startswith("nb_epochs")
) + "    return W, b\n"
CALL_FN = "W, b = train(x_train, y_train, 1000)\n"

LESSON = f"""\
---
id: bench-overhead
title:
  en: Overhead benchmark
  ko: 오버헤드 벤치마크
---

## Softmax | 소프트맥스

```python
{SETUP}```

```python
{TRAIN}```
"""


LESSON_FN = LESSON.replace(f"```python\n{TRAIN}```", f"```python\n{TRAIN_FN}```\n\n```python\n{CALL_FN}```")


def write_lesson(directory: Path, text: str = LESSON) -> Path:
    path = directory / f"01-bench-overhead{len(text)}.md"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path):
    """The lesson through the real loader."""
    from tutor.engine.loader import load_lesson

    return load_lesson(path)


def bare(quiet: bool = True, in_function: bool = False) -> float:
    namespace: dict = {"print": (lambda *a, **k: None) if quiet else print}
    exec(compile(SETUP, "setup", "exec"), namespace)
    if in_function:
        exec(compile(TRAIN_FN, "define", "exec"), namespace)
    code = compile(CALL_FN if in_function else TRAIN, "train", "exec")
    start = time.perf_counter()
    exec(code, namespace)
    return time.perf_counter() - start


def engine(lesson) -> float:
    """Free run of the training cell only: the setup cell first, then time the rest."""
    from tutor.engine.kernel.client import KernelClient

    runner = KernelClient(HOST, lesson)
    try:
        for _ in range(len(lesson.runnable_cells) - 1):  # setup (and the def), then wait
            runner.next()
            runner.wait(30)
        # As a learner pauses before the next key: the checkpoint the cell end made has
        # connected by then, and its start-up does not share the timed run's cores.
        time.sleep(SETTLE)
        start = time.perf_counter()
        runner.run()
        state = runner.wait(60)
        elapsed = time.perf_counter() - start
        assert state.status == "done", state.error
        assert len(state.costs) == 1001
        return elapsed
    finally:
        runner.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    import torch

    from tutor.engine.runner import TORCH_THREADS

    # The engine runs lesson code with TORCH_THREADS intra-op threads; give the bare
    # run the same, so the ratio measures the engine and not OpenMP.
    if TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)
    global HOST
    from tutor.engine.kernel.host import KernelHost

    HOST = KernelHost()
    HOST.ready.wait(60)
    status = 0
    for title, text, in_function in (("loop in a cell", LESSON, False),
                                     ("loop inside a function", LESSON_FN, True)):
        status |= measure(title, text, in_function, args.repeat)
    HOST.close()
    return status


def measure(title: str, text: str, in_function: bool, repeat: int) -> int:
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        lesson = load(write_lesson(Path(tmp), text))
        bare(in_function=in_function)  # warm up torch's kernels and allocator
        engine(lesson)
        bare_times, engine_times = [], []
        for i in range(repeat):  # alternate, and swap the order every time
            if i % 2:
                engine_times.append(engine(lesson))
                bare_times.append(bare(in_function=in_function))
            else:
                bare_times.append(bare(in_function=in_function))
                engine_times.append(engine(lesson))
    b, e = statistics.median(bare_times), statistics.median(engine_times)
    ratio = statistics.median(en / ba for en, ba in zip(engine_times, bare_times))
    print(f"== {title}")
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"bare:   median {b * 1000:.1f} ms over {repeat} runs of 1001 epochs")
    print(f"engine: median {e * 1000:.1f} ms (free run in a kernel process, as the app does)")
    print(f"overhead ratio: {ratio:.2f}")
    # On a shared machine the medians wander with the load; the fastest runs of each
    # kind show the engine's own cost best.
    print(f"best-run ratio: {min(engine_times) / min(bare_times):.2f} "
          f"(bare {min(bare_times) * 1000:.1f} ms, engine {min(engine_times) * 1000:.1f} ms)")
    if ratio > TARGET:
        print(f"MISSED: overhead ratio {ratio:.2f} > {TARGET} ({title})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
