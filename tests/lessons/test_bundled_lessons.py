"""The bundled lessons: valid, reproducing the seed notebooks' numbers, steppable.

- `tutor check --run` on the bundled lesson directory passes with nothing to report
  but its summary line (no errors, no warnings: every training loop has a plotted cost and a learning
  rate the learner can replace), run as the real command in a subprocess.
- Every number the seed notebooks printed appears in the headless output
  (`tutor run ID`) of the lesson that teaches it. These strings are the seeds'
  printouts (design: "every number that they print is reproduced"), compared by the
  rule of design §9 (`prints` below): a CPU whose float rounding moves the last
  printed digit (AVX512 or not) still reproduces them.
- The hand-written and `optim.SGD` loops print what plain torch computes for the same
  loop, with the lesson's learning rate and with a learner's override (`--lr`), so
  the override really reaches `W -= lr * gradient` and the optimizer.
- The lessons come in teaching order, in both languages, with hints.
"""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
from contextlib import redirect_stdout
from functools import lru_cache
from pathlib import Path

import pytest

from tutor import cli
from tutor.engine import loader
from tutor.engine.compare import NUMBER, number_matches, normalise

REPO = Path(__file__).resolve().parents[2]
LESSONS = REPO / "lessons"

ORDER = [
    "autograd",
    "cost-function",
    "gradient-descent",
    "optim-sgd",
    "linear-regression",
    "nn-linear",
    "minibatch",
    "logistic-regression",
    "softmax-cross-entropy",
    "softmax-classifier",
    "optimizers",
]

# Lesson id -> strings the seed notebooks printed (formatted as the lesson prints them).
SEED_NUMBERS = {
    "autograd": [
        "dz/dw: tensor(8.)",  # w = 2, y = w², z = 2y + 5
        "epoch 4: w.grad = 10.0",  # z = 2*w repeated: gradients add up
    ],
    "gradient-descent": [
        # seed 000: hand GD on y = 2x, lr 0.1, gradient without 2/m
        "Epoch :    1/10, W : 0.000, Cost : 18.667",
        "Epoch :    2/10, W : 2.800, Cost : 2.987",
        "Epoch :    3/10, W : 1.680, Cost : 0.478",
        "Epoch :    4/10, W : 2.128, Cost : 0.076",
        "Epoch :   10/10, W : 2.001, Cost : 0.000",
        # seed 001: y = x, lr 0.01, gradient 2 * sum
        "Epoch:    1/10 W: 0.000, Cost: 4.666667",
        "Epoch:    2/10 W: 0.280, Cost: 2.419200",
        "Epoch:    3/10 W: 0.482, Cost: 1.254113",
        "Epoch:    4/10 W: 0.627, Cost: 0.650132",
        "Epoch:   10/10 W: 0.948, Cost: 0.012618",
    ],
    "optim-sgd": [
        # seed 001: optim.SGD, lr 0.15
        "Epoch:    1/10 W: 0.000, Cost: 4.666667",
        "Epoch:    2/10 W: 1.400, Cost: 0.746667",
        "Epoch:    3/10 W: 0.840, Cost: 0.119467",
        "Epoch:    4/10 W: 1.064, Cost: 0.019115",
        "Epoch:   10/10 W: 1.000, Cost: 0.000000",
        # seed 000: optim.SGD lr 0.15 on y = 2x reproduces the hand loop at lr 0.1
        "Epoch :    2/10, W : 2.800, Cost : 2.987",
    ],
    "linear-regression": [
        # seed 000: W and b, one step then 1000 epochs at lr 0.01
        "Cost: 0.048171",
        "Cost: 0.029767",
        "Cost: 0.000633",
    ],
    "nn-linear": [
        # seed 004: manual_seed(777), nn.Linear(1, 1) before training
        "tensor([[-0.8362]], requires_grad=True)",
        "tensor([-0.0177], requires_grad=True)",
    ],
    "softmax-cross-entropy": [
        "tensor([0.0900, 0.2447, 0.6652])",
        "tensor([1.3301, 1.4602, 1.6165]",
        "tensor(1.4689, grad_fn=<MeanBackward0>)",
        "tensor(1.4689, grad_fn=<NllLossBackward0>)",
    ],
    "softmax-classifier": [
        "Epoch    0/1000 Cost: 1.098612",
        "Epoch  100/1000 Cost: 0.761050",
        "Epoch 1000/1000 Cost: 0.399962",
        "Epoch    0/1000 Cost: 1.849513",
        "Epoch  100/1000 Cost: 0.689894",
        "Epoch 1000/1000 Cost: 0.241922",
    ],
}


def _tutor_command() -> list[str]:
    script = Path(sys.executable).with_name("tutor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tutor"]


@lru_cache(maxsize=None)
def tutor_run(lesson_id: str, lr: str | None = None) -> str:
    """`tutor run ID [--lr X]` in this process (torch is imported once for all tests)."""
    args = ["run", "--lessons", str(LESSONS), lesson_id]
    if lr is not None:
        args += ["--lr", lr]
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = cli.main(args)
    assert code == 0, f"tutor {' '.join(args)} exited with {code}"
    return buffer.getvalue()


def _fragment_pattern(fragment: str) -> tuple[re.Pattern[str], list[str]]:
    fragment = normalise(fragment)
    parts, numbers, pos = [], [], 0
    for match in NUMBER.finditer(fragment):
        parts.append(r"\s*".join(map(re.escape, fragment[pos: match.start()].split())))
        parts.append(f"({NUMBER.pattern})")
        numbers.append(match.group())
        pos = match.end()
    parts.append(r"\s*".join(map(re.escape, fragment[pos:].split())))
    return re.compile(r"\s*".join(p for p in parts if p)), numbers


def prints(output: str, fragment: str) -> int:
    """How many lines of `output` contain `fragment`, its numbers compared as §9
    compares an output block's (one unit of the last printed digit)."""
    pattern, expected = _fragment_pattern(fragment)
    count = 0
    for line in output.splitlines():
        for match in pattern.finditer(normalise(line)):
            if all(number_matches(e, g) for e, g in zip(expected, match.groups())):
                count += 1
                break
    return count


def test_prints_compares_numbers_by_the_last_printed_digit():
    assert prints("x\nEpoch 11/20 iterations 3 Cost: 2.353\n", "iterations 3 Cost: 2.352") == 1
    assert prints("Epoch 11/20 iterations 3 Cost: 2.452\n", "iterations 3 Cost: 2.352") == 0
    assert prints("Epoch 12/20 iterations 3 Cost: 2.352\n", "Epoch 11/20") == 0
    assert prints("tensor([1.3301,  1.4602, 1.6166], grad_fn=<X>)", "tensor([1.3301, 1.4602, 1.6165]") == 1


def test_check_run_passes_with_nothing_to_report():
    env = {**os.environ, "LANG": "C.UTF-8", "PYTHONPATH": str(REPO)}
    env.pop("LC_ALL", None)
    done = subprocess.run(
        [*_tutor_command(), "check", "--run", str(LESSONS)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # nothing but the summary line: no error, no warning
    assert re.fullmatch(rf"ok: {len(ORDER)} lessons, \d+ cells run, \d+ output blocks matched, [\d.]+ s\n", done.stdout), done.stdout
    assert done.stderr.strip() == "", done.stderr


@pytest.mark.parametrize("lesson_id", sorted(SEED_NUMBERS))
def test_seed_numbers_are_reproduced(lesson_id):
    output = tutor_run(lesson_id)
    missing = [s for s in SEED_NUMBERS[lesson_id] if not prints(output, s)]
    assert not missing, f"{lesson_id} does not print {missing}"


def test_softmax_classifier_low_level_and_cross_entropy_agree():
    output = tutor_run("softmax-classifier")
    assert prints(output, "Epoch 1000/1000 Cost: 0.399962") == 2


# --- the same loops in plain torch -------------------------------------------------------

def _hand_gd_lines(lr: float) -> list[str]:
    """Seed 000's hand-written loop (gradient without 2/m) in plain torch."""
    import torch

    x = torch.FloatTensor([[1], [2], [3]])
    y = torch.FloatTensor([[2], [4], [6]])
    W = torch.zeros(1)
    lines = []
    for epoch in range(1, 11):
        cost = torch.mean((x * W - y) ** 2)
        gradient = torch.sum((x * W - y) * x)
        lines.append(f"Epoch : {epoch:4d}/10, W : {W.item():.3f}, Cost : {cost.item():.3f}")
        W -= lr * gradient
    return lines


def _sgd_lines(lr: float) -> list[str]:
    """Seed 001's optim.SGD loop on y = x in plain torch."""
    import torch

    x = torch.FloatTensor([[1, 2, 3]])
    y = torch.FloatTensor([[1, 2, 3]])
    W = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([W], lr=lr)
    lines = []
    for epoch in range(1, 11):
        cost = torch.mean((W * x - y) ** 2)
        lines.append("Epoch: {:4d}/{} W: {:.3f}, Cost: {:.6f}".format(epoch, 10, W.item(), cost.item()))
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
    return lines


@pytest.mark.parametrize("lr", [None, "0.05"])
def test_hand_gradient_descent_matches_plain_torch(lr):
    output = tutor_run("gradient-descent", lr)
    expected = _hand_gd_lines(0.1 if lr is None else float(lr))
    assert "\n".join(expected) in output


@pytest.mark.parametrize("lr", [None, "0.05"])
def test_optim_sgd_matches_plain_torch(lr):
    output = tutor_run("optim-sgd", lr)
    expected = _sgd_lines(0.15 if lr is None else float(lr))
    assert "\n".join(expected) in output


# --- structure ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lessons():
    found, errors = loader.discover(LESSONS)
    assert not errors, errors
    return found


def test_lessons_come_in_teaching_order(lessons):
    assert [lesson.id for lesson in lessons] == ORDER


def test_every_lesson_speaks_both_languages(lessons):
    for lesson in lessons:
        for text in (lesson.title, lesson.summary):
            assert text.en and text.ko and text.en != text.ko, lesson.id
        for section in lesson.sections:
            assert section.title.en and section.title.ko, (lesson.id, section.index)
            assert section.prose.en.strip() and section.prose.ko.strip(), (lesson.id, section.index)
            assert section.prose.en != section.prose.ko, (lesson.id, section.index)


def _trains(lesson) -> bool:
    """A top-level loop of a runnable cell calls `.backward()`, `.step()` or
    updates a variable in place (`W -= lr * gradient`)."""
    for cell in lesson.runnable_cells:
        for node in ast.parse(cell.source).body:
            if isinstance(node, (ast.For, ast.While)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.AugAssign) and isinstance(inner.op, ast.Sub):
                        return True
                    if (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute)
                            and inner.func.attr in ("backward", "step") and lesson.id != "autograd"):
                        return True
    return False


def test_training_lessons_have_a_learning_rate_hint_and_something_to_try(lessons):
    training = [lesson for lesson in lessons if _trains(lesson)]
    assert [lesson.id for lesson in training] == [i for i in ORDER[2:] if i != "softmax-cross-entropy"]
    for lesson in training:
        hints = [hint for section in lesson.sections for hint in section.hints]
        assert any("learning rate" in hint.en and "학습률" in hint.ko for hint in hints), lesson.id
        prose = " ".join(section.prose.en for section in lesson.sections)
        assert "`e`" in prose, f"{lesson.id}: no learning rate to try with `e`"


def test_every_seeded_lesson_declares_its_seed(lessons):
    seeds = {lesson.id: lesson.seed for lesson in lessons}
    assert seeds["nn-linear"] == 777
    assert seeds["softmax-cross-entropy"] == 1
    assert seeds["softmax-classifier"] == 1
