"""LaTeX in prose: Unicode in the app (tutor/ui/latex.py), LaTeX in the file.

Unit tests for the formulas notebooks write (Greek, sub- and superscripts, \\frac,
\\sum, \\partial, \\hat, multi-line display math), code left alone, dollars that are
money left alone; and the lesson screen at 80x24 in both languages (snapshots).
"""

from __future__ import annotations

import pytest

from tutor.ui.latex import latex_to_unicode, prose_math

from .conftest import engine_ready

SIZE = (80, 24)


@pytest.mark.parametrize(("latex", "shown"), [
    (r"H(x) = Wx + b", "H(x) = Wx + b"),
    (r"\alpha \beta \theta \nabla", "α β θ ∇"),
    (r"x^2 + x_i + W^{(i)} + y_{i+1}", "x² + xᵢ + W⁽ⁱ⁾ + yᵢ₊₁"),
    (r"x^{n+1} \quad x^{\star}", "xⁿ⁺¹ x^⋆"),
    (r"\frac{1}{m}", "1/m"),
    (r"\frac{\partial cost}{\partial W}", "(∂ cost)/(∂ W)"),
    (r"\sum_{i=1}^{m} (H(x^{(i)}) - y^{(i)})^2", "∑ᵢ₌₁ᵐ (H(x⁽ⁱ⁾) - y⁽ⁱ⁾)²"),
    (r"\hat{y} = \sigma(Wx + b)", "ŷ = σ(Wx + b)"),
    (r"W := W - \alpha \frac{\partial}{\partial W} cost(W)", "W := W - α ∂/(∂ W) cost(W)"),
    (r"\left( a \right) \cdot b \times c", "( a ) · b × c"),
    (r"\mathbb{R}^{n} \quad \sqrt{x^2 + 1} \quad \text{cost}", "ℝⁿ √(x² + 1) cost"),
    (r"\begin{aligned} a &= b \\ c &= d \end{aligned}", "a = b\nc = d"),
])
def test_formulas(latex, shown):
    assert latex_to_unicode(latex) == shown


def test_prose_math_inline_display_code_and_money():
    text = (
        "The cost $cost(W)$ costs $5 and $10.\n\n"
        "`$x^2$` and\n\n```python\ny = '$x$'\n```\n\n"
        "$$\ncost(W)\n=\n\\frac{1}{m} \\sum_{i=1}^{m} (Wx^{(i)} - y^{(i)})^2\n$$\n"
    )
    shown = prose_math(text)
    assert shown.startswith("The cost cost(W) costs $5 and $10.")  # not math: money
    assert "`$x^2$`" in shown and "y = '$x$'" in shown  # code untouched
    # a display formula written over lines is one paragraph, its `=` kept (no heading)
    assert "\n\ncost(W) = 1/m ∑ᵢ₌₁ᵐ (Wx⁽ⁱ⁾ - y⁽ⁱ⁾)²\n\n" in shown
    assert prose_math("no math") == "no math"


def test_markdown_specials_in_math_are_escaped():
    assert prose_math("$a*b*c$") == r"a\*b\*c"
    assert prose_math("$x_{\\star}$") == r"x\_⋆"


MATH_LESSON = r"""---
id: math
title:
  en: Cost
  ko: 비용
---

## Cost | 비용 함수

::: en
The cost (cost function) is the mean squared error:

$$
cost(W)
=
\frac{1}{m} \sum_{i=1}^{m} \left( W x^{(i)} - y^{(i)} \right)^2
$$

Its gradient is $\frac{\partial cost}{\partial W}$, and $\hat{y} = Wx$ with the learning rate $\alpha$.
:::
::: ko
비용 함수(cost function)는 평균 제곱 오차입니다:

$$
cost(W)
=
\frac{1}{m} \sum_{i=1}^{m} \left( W x^{(i)} - y^{(i)} \right)^2
$$

경사는 $\frac{\partial cost}{\partial W}$이고, $\hat{y} = Wx$, 학습률(learning rate)은 $\alpha$입니다.
:::

```python
import torch
W = torch.zeros(1)
```
"""


@pytest.fixture
def math_lessons(lessons_dir):
    (lessons_dir / "05-math.md").write_text(MATH_LESSON, encoding="utf-8")
    return lessons_dir


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_math_prose_snapshot(snap_compare, make_app, math_lessons, lang):
    async def run_before(pilot) -> None:
        await engine_ready(pilot)
        await pilot.press("right_square_bracket")  # to the section with the formulas
        await pilot.pause(0.5)

    assert snap_compare(make_app(lesson="math", lang=lang), terminal_size=SIZE, run_before=run_before)
