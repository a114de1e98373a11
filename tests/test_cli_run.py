"""`tutor run`: plain output, JSON lines, errors and bad input (design §3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tutor.cli import main

LESSON = """\
---
id: tiny-gd
title:
  en: Tiny gradient descent
  ko: 작은 경사 하강법
---

## Data | 데이터

```python
import torch
x_train = torch.FloatTensor([[1.0], [2.0], [3.0]])
y_train = torch.FloatTensor([[2.0], [4.0], [6.0]])
W = torch.zeros(1, requires_grad=True)
lr = 0.1
print('data', x_train.shape[0])
```

## Train | 훈련

```python
optimizer = torch.optim.SGD([W], lr=lr)
for epoch in range(3):
    cost = torch.mean((x_train * W - y_train) ** 2)
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
    print(epoch, round(cost.item(), 4))
W
```
"""

BROKEN = """\
---
id: broken
title:
  en: Broken
  ko: 고장
---

```python
a = 1
b = a / 0
```
"""


@pytest.fixture
def lessons(tmp_path) -> Path:
    (tmp_path / "01-tiny.md").write_text(LESSON, encoding="utf-8")
    (tmp_path / "02-broken.md").write_text(BROKEN, encoding="utf-8")
    return tmp_path


def plain_torch(lr: float):
    x = torch.FloatTensor([[1.0], [2.0], [3.0]])
    y = torch.FloatTensor([[2.0], [4.0], [6.0]])
    W = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([W], lr=lr)
    out = []
    for _ in range(3):
        cost = torch.mean((x * W - y) ** 2)
        opt.zero_grad()
        cost.backward()
        opt.step()
        out.append((cost.item(), W.detach().tolist(), W.grad.tolist()))
    return out, W


def test_plain_prints_exactly_what_the_code_prints(lessons, capsys):
    assert main(["run", str(lessons / "01-tiny.md")]) == 0
    captured = capsys.readouterr()
    steps, W = plain_torch(0.1)
    expected = "data 3\n" + "".join(f"{i} {round(c, 4)}\n" for i, (c, _, _) in enumerate(steps)) + repr(W) + "\n"
    assert captured.out == expected
    assert captured.err == ""


def test_what_lesson_code_writes_to_the_streams_goes_to_the_same_streams(tmp_path, capsys):
    """sys.stdout.write joins the printed output in order; stderr stays stderr (and a
    JSON line says which stream an output came from)."""
    path = tmp_path / "01-streams.md"
    path.write_text(LESSON.split("## Data")[0] + "## Streams | 스트림\n\n```python\nimport sys\n"
                    "print('a')\n_ = sys.stdout.write('b\\n')\n_ = sys.stderr.write('c\\n')\nprint('d')\n```\n",
                    encoding="utf-8")
    assert main(["run", str(path)]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("a\nb\nd\n", "c\n")
    assert main(["run", str(path), "--jsonl"]) == 0
    outputs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    outputs = [(o["text"], o.get("stream")) for o in outputs if o["event"] == "output"]
    assert outputs == [("a\n", None), ("b\n", None), ("c\n", "stderr"), ("d\n", None)]


def test_lesson_by_id_with_lessons_dir_and_lr_override(lessons, capsys):
    assert main(["--lessons", str(lessons), "run", "tiny-gd", "--lr", "0.05"]) == 0
    steps, _ = plain_torch(0.05)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:4] == [f"{i} {round(c, 4)}" for i, (c, _, _) in enumerate(steps)]


def test_jsonl_events_in_order(lessons, capsys):
    assert main(["run", str(lessons / "01-tiny.md"), "--jsonl", "--lr", "0.05"]) == 0
    out = capsys.readouterr().out
    events = [json.loads(line) for line in out.splitlines()]  # every line is JSON
    kinds = [e["event"] for e in events]
    assert kinds == ["cell", "output", "cell", "output", "iteration", "output", "iteration",
                     "output", "iteration", "output", "done"]
    assert events[0] == {"event": "cell", "cell": 0, "line": 11}
    assert events[2] == {"event": "cell", "cell": 1, "line": 22}
    steps, _ = plain_torch(0.05)
    iterations = [e for e in events if e["event"] == "iteration"]
    for k, (event, (cost, W, grad)) in enumerate(zip(iterations, steps)):
        assert (event["cell"], event["iteration"], event["lr"]) == (1, k, 0.05)
        assert event["cost"] == pytest.approx(cost)
        assert event["tensors"]["W"]["shape"] == [1]
        assert event["tensors"]["W"]["value"] == pytest.approx(W)
        assert event["tensors"]["W"]["grad"] == pytest.approx(grad)
        assert event["tensors"]["x_train"]["grad"] is None
    assert events[1] == {"event": "output", "cell": 0, "text": "data 3\n"}
    assert isinstance(events[-1]["seconds"], float)


def test_error_is_one_line_on_stderr_and_exit_1(lessons, capsys):
    path = lessons / "02-broken.md"
    assert main(["run", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"{path}:10: ZeroDivisionError: division by zero\n"


def test_error_event_in_jsonl(lessons, capsys):
    assert main(["run", str(lessons / "02-broken.md"), "--jsonl"]) == 1
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in events] == ["cell", "error"]
    assert events[1] == {"event": "error", "cell": 0, "line": 10, "type": "ZeroDivisionError",
                         "message": "division by zero"}


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "nan", "inf", "1e400", "", "-inf"])
def test_bad_lr_exits_2_with_one_line(lessons, capsys, bad):
    assert main(["run", str(lessons / "01-tiny.md"), f"--lr={bad}"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("tutor: error: --lr")


@pytest.mark.parametrize("ref", ["no-such-lesson", "missing.md"])
def test_unknown_lesson_exits_2(lessons, capsys, ref):
    assert main(["--lessons", str(lessons), "run", ref]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "tutor: error:" in captured.err


def test_unreadable_file_exits_2(tmp_path, capsys):
    path = tmp_path / "01-bad.md"
    path.write_bytes(b"---\nid: x\n\xff\xfe\n")
    assert main(["run", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "tutor: error:" in captured.err


def test_as_a_real_process(lessons):
    """The entry point end to end: exit codes and streams of a separate process."""
    run = subprocess.run(
        [sys.executable, "-m", "tutor", "run", str(lessons / "02-broken.md")],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.strip().endswith("02-broken.md:10: ZeroDivisionError: division by zero")
    assert len(run.stderr.splitlines()) == 1


def test_until_stops_where_plain_torch_first_meets_it(lessons, capsys):
    steps, _ = plain_torch(0.1)
    costs = [c for c, _, _ in steps]
    threshold = (costs[1] + costs[2]) / 2
    expected = next(i for i, c in enumerate(costs) if c < threshold)
    assert main(["run", str(lessons / "01-tiny.md"), "--until", f"cost < {threshold!r}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:-1] == ["data 3"] + [f"{i} {round(c, 4)}" for i, c in enumerate(costs[:expected + 1])]
    assert lines[-1].startswith(f"until cost < {threshold!r}: met at iteration {expected}, cost ")
    assert float(lines[-1].rsplit(" ", 1)[1]) == pytest.approx(costs[expected], rel=1e-5)


def test_until_never_met_runs_to_the_end_and_exits_1(lessons, capsys):
    assert main(["run", str(lessons / "01-tiny.md"), "--until", "cost > 1e9"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("tensor(")  # the lesson's last cell ran
    assert lines[-1] == "until cost > 1e9: not met; ran to the end"


def test_until_in_jsonl_is_the_last_event(lessons, capsys):
    assert main(["run", str(lessons / "01-tiny.md"), "--jsonl", "--until", "1"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["event"] == "until" and events[-1]["reason"] == "reached"
    assert events[-1]["iteration"] == 1 and events[-1]["cell"] == 1
    assert [e["iteration"] for e in events if e["event"] == "iteration"] == [0]
    assert not any(e["event"] == "done" for e in events)


@pytest.mark.parametrize("bad", ["", "cost <", "cost < x", "1.5", "@-2", "lr > 3"])
def test_bad_until_exits_2_with_one_line(lessons, capsys, bad):
    assert main(["run", str(lessons / "01-tiny.md"), "--until", bad]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "--until" in captured.err
