"""`tutor new SLUG`: write a skeleton lesson a teacher can start editing.

The skeleton is a complete, valid lesson (it passes `tutor check --run`): front
matter, a bilingual introduction, one section with a small steppable training
loop that uses `lr` and `cost`, its expected output, and a bilingual hint. It
shows every part of the format in place, so editing it is easier than starting
from an empty file.

Where it goes: `--lessons DIR` when given (created if missing), else `./lessons`
when the current directory has one (the usual layout of a course repository),
else a usage error: writing into the lessons bundled inside the installed
package would be lost on the next upgrade. The file is `NN-slug.md` with NN one
more than the largest number already there, so it sorts last. An existing file
or an existing lesson id is never overwritten.

The helpers here (lesson directory, next number, ids in use) are shared with
`tutor import`.
"""

from __future__ import annotations

import re
from argparse import Namespace
from pathlib import Path

import yaml

from tutor.errors import UsageError
from tutor.engine.notebook import yaml_scalar

SLUG = re.compile(r"[a-z0-9-]+")
_NUMBERED = re.compile(r"^(\d+)-")


def main(args: Namespace) -> int:
    slug = args.slug
    if not SLUG.fullmatch(slug):
        raise UsageError(f"slug {slug!r} must use only a-z, 0-9 and '-' (it becomes the lesson id)")
    lesson_dir = lesson_directory(args.lessons)
    path = next_lesson_path(lesson_dir, slug)
    title_en = args.title_en or slug.replace("-", " ").capitalize()
    title_ko = args.title_ko or title_en
    write_new_file(path, skeleton(slug, title_en, title_ko))
    print(path)
    return 0


def lesson_directory(option: str | None, cwd: Path | None = None) -> Path:
    """Where new lessons are written (see the module docstring)."""
    if option:
        directory = Path(option)
        if directory.exists() and not directory.is_dir():
            raise UsageError(f"--lessons {option}: not a directory")
        directory.mkdir(parents=True, exist_ok=True)
        return directory
    default = (cwd or Path.cwd()) / "lessons"
    if default.is_dir():
        return Path("lessons") if cwd is None else default
    raise UsageError("no ./lessons directory here; pass --lessons DIR to say where the lesson goes")


def next_lesson_path(directory: Path, slug: str) -> Path:
    """`directory/NN-slug.md` with the next free number; refuses an id in use."""
    used = lesson_ids(directory)
    if slug in used:
        raise UsageError(f"lesson id {slug!r} is already used by {used[slug]}")
    numbers = [int(m.group(1)) for p in directory.glob("*.md") if (m := _NUMBERED.match(p.name))]
    path = directory / f"{max(numbers, default=0) + 1:02d}-{slug}.md"
    if path.exists():
        raise UsageError(f"{path} already exists")
    return path


def lesson_ids(directory: Path) -> dict[str, Path]:
    """id → file for the lessons in `directory`.

    Tolerant on purpose: a lesson with broken front matter is `tutor check`'s
    business, and must not stop a teacher from adding a new one.
    """
    ids: dict[str, Path] = {}
    for path in sorted(directory.glob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
            head, sep, _ = text.removeprefix("---\n").partition("\n---")
            meta = yaml.safe_load(head) if text.startswith("---\n") and sep else None
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(meta, dict) and isinstance(meta.get("id"), str):
            ids.setdefault(meta["id"], path)
    return ids


def write_new_file(path: Path, text: str) -> None:
    """Create `path` with `text`; never replaces a file (exclusive create)."""
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise UsageError(f"{path} already exists") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def skeleton(slug: str, title_en: str, title_ko: str) -> str:
    """The text of a new lesson; its output block is what the loop prints."""
    return _SKELETON.format(id=slug, title_en=yaml_scalar(title_en), title_ko=yaml_scalar(title_ko))


_SKELETON = """\
---
id: {id}
title:
  en: {title_en}
  ko: {title_ko}
summary:
  en: One line shown in the lesson list.
  ko: 레슨 목록에 보이는 한 줄 설명.
# Optional keys (the values shown are the defaults):
# cost: cost   # variable plotted each iteration (default cost, else loss)
# lr: lr       # variable the learner's learning rate replaces
# seed: 0      # torch.manual_seed before the first cell
---

::: en
What this lesson teaches, in a few sentences. Text outside `::: en` and
`::: ko` blocks is shown in both languages.
:::

::: ko
이 레슨에서 배우는 내용을 몇 문장으로 적습니다. `::: en`, `::: ko` 블록 밖의
글은 두 언어 모두에 보입니다.
:::

## Training loop | 학습 루프

::: en
We fit `W` so that `W * x` matches `y = 2x`. Press `n` to run one iteration of
the loop, `s` for one statement, and `e` to try another learning rate.
:::

::: ko
`W * x`가 `y = 2x`에 맞도록 `W`를 학습합니다. `n`은 반복 한 번, `s`는 문장
하나를 실행하고, `e`로 학습률을 바꿔 볼 수 있습니다.
:::

```python
import torch

x_train = torch.tensor([[1.0], [2.0], [3.0]])
y_train = torch.tensor([[2.0], [4.0], [6.0]])
W = torch.zeros(1, requires_grad=True)
lr = 0.05
optimizer = torch.optim.SGD([W], lr=lr)

for epoch in range(6):
    cost = torch.mean((x_train * W - y_train) ** 2)
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
    print(f"epoch {{epoch}}: W = {{W.item():.4f}}, cost = {{cost.item():.4f}}")
```

```output
epoch 0: W = 0.9333, cost = 18.6667
epoch 1: W = 1.4311, cost = 5.3096
epoch 2: W = 1.6966, cost = 1.5103
epoch 3: W = 1.8382, cost = 0.4296
epoch 4: W = 1.9137, cost = 0.1222
epoch 5: W = 1.9540, cost = 0.0348
```

:::: hint
::: en
Try a learning rate of 0.5 with `e`: the cost grows instead of shrinking.
:::
::: ko
`e`로 학습률을 0.5로 바꿔 보세요. cost가 줄지 않고 커집니다.
:::
::::
"""
