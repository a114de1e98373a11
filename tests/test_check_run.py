"""`tutor check --run`: the summary line, `--update`, and the §9 rules end to end.

Lessons are written by the tests; the command line runs in-process (cwd tmp_path).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tutor.cli import main


@pytest.fixture
def tutor(monkeypatch, capsys):
    """tutor(cwd, *argv) -> (code, stdout, stderr)."""

    def run(cwd: Path, *argv: str) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run

LESSON = """\
---
id: fit
title:
  en: Fit
  ko: 맞추기
---

## Only | 유일

::: en
Text.
:::
::: ko
글.
:::

```python
import torch
x = torch.tensor([1.0, 2.0, 3.0])
print(f"mean {x.mean().item():.3f}")
print("grad", torch.tensor(2.0, requires_grad=True).mean())
```

```output
mean {mean}
grad tensor(2., grad_fn=<MeanBackward1>)
```

```python
for i in range(2):
    print("step", i)
```

```output
step 0
step 1
```
"""


def write(tmp_path, mean="2.000"):
    path = tmp_path / "01-fit.md"
    path.write_text(LESSON.replace("{mean}", mean), encoding="utf-8")
    return path


def test_summary_line_when_all_is_well(tmp_path, tutor):
    # 2.001: one unit of the last printed digit; MeanBackward1 is today's MeanBackward0
    write(tmp_path, mean="2.001")
    code, out, err = tutor(tmp_path, "check", "--run", "01-fit.md")
    assert code == 0, out + err
    assert re.fullmatch(r"ok: 1 lesson, 2 cells run, 2 output blocks matched, \d+\.\d s\n", out), out
    assert err == ""


def test_no_summary_when_something_differs(tmp_path, tutor):
    write(tmp_path, mean="2.100")
    code, out, err = tutor(tmp_path, "check", "--run", "01-fit.md")
    assert code == 1
    assert out.startswith("01-fit.md:25: output differs\n") and "ok:" not in out
    assert (tmp_path / "01-fit.md").read_text().splitlines()[24] == "mean 2.100"  # line 25
    assert "expected: mean 2.100" in out and "got:      mean 2.000" in out


def test_update_rewrites_only_the_differing_block(tmp_path, tutor):
    path = write(tmp_path, mean="2.100")
    before = path.read_text(encoding="utf-8")
    code, out, err = tutor(tmp_path, "check", "--run", "--update", "01-fit.md")
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0] == ("01-fit.md: updated output block at line 24 (2 → 2 lines; "
                        "first change at its line 1: 'mean 2.100' → 'mean 2.000')")
    assert lines[1].startswith("ok: 1 lesson, 2 cells run, 2 output blocks matched")
    after = path.read_text(encoding="utf-8")
    # the block now holds what the cell printed; nothing else moved (code, prose, other block)
    expected = before.replace("mean 2.100\ngrad tensor(2., grad_fn=<MeanBackward1>)",
                              "mean 2.000\ngrad tensor(2., grad_fn=<MeanBackward0>)")
    assert after == expected
    code, out, err = tutor(tmp_path, "check", "--run", "01-fit.md")
    assert code == 0 and out.startswith("ok:"), out + err


def test_update_needs_run(tmp_path, tutor):
    write(tmp_path)
    code, out, err = tutor(tmp_path, "check", "--update", "01-fit.md")
    assert code == 2 and "--update needs --run" in err
