"""`tutor import`: a notebook built here from the seeds' gradient-descent code and
its printed output becomes a lesson that `tutor check --run` accepts (the numbers
are reproduced by really running it), plus the conversion rules one by one."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml
from hypothesis import given, strategies as st
from nbformat import v4

from tutor.cli import main
from tutor.engine.loader import load_lesson
from tutor.engine.notebook import convert_code, fence_for, notebook_to_lesson, yaml_scalar


@pytest.fixture
def tutor(monkeypatch, capsys):
    """Run the command line in-process: tutor(cwd, *argv) -> (code, stdout, stderr)."""

    def run(cwd: Path, *argv: str) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


# From /work/shared/seeds/001_*.txt (copied: the test must not depend on shared/).
SEED_GD = """\
import torch
from torch import optim

# 데이터셋 정의
x_train = torch.FloatTensor([[1,2,3]])
y_train = torch.FloatTensor([[1,2,3]])


# 모델 파라미터 초기화
W = torch.zeros(1) #requires_grad = True:[RuntimeError]a leaf Variable that requires grad is being used in an in-place operation.

# learning rate 설정
lr = 0.01

# for loops 돌아가며 파라미터 갱신
nb_epochs = 10
for epoch in range(1, nb_epochs+1):
    # 예측(H(x) 계산)
    hypothesis = x_train * W
    # loss와 loss gradient 계산
    loss = torch.mean((hypothesis - y_train)**2) # 텐서들이므로 x = [1,2,3], y = [1,2,3] 통째로 연산
    gradient = 2 * torch.sum((hypothesis - y_train)* x_train)
    
    print('Epoch: {:4d}/{} W: {:.3f}, Cost: {:.6f}'.format(epoch, nb_epochs, W.item(), loss.item()))
    # loss gradient로 W 파라미터 갱신해주어 loss값 줄이기
    W -= lr * gradient
"""

SEED_GD_OUTPUT = """\
Epoch:    1/10 W: 0.000, Cost: 4.666667
Epoch:    2/10 W: 0.280, Cost: 2.419200
Epoch:    3/10 W: 0.482, Cost: 1.254113
Epoch:    4/10 W: 0.627, Cost: 0.650132
Epoch:    5/10 W: 0.731, Cost: 0.337029
Epoch:    6/10 W: 0.807, Cost: 0.174716
Epoch:    7/10 W: 0.861, Cost: 0.090573
Epoch:    8/10 W: 0.900, Cost: 0.046953
Epoch:    9/10 W: 0.928, Cost: 0.024340
Epoch:   10/10 W: 0.948, Cost: 0.012618
"""

SEED_OPTIM = """\
import torch
from torch import optim


# 데이터셋 정의
x_train = torch.FloatTensor([[1,2,3]])
y_train = torch.FloatTensor([[1,2,3]])

# 모델 파라미터 초기화
W = torch.zeros(1, requires_grad = True)
# b = torch.zeros(1, requires_grad = True)

# optimizer 설정
optimizer = optim.SGD([W], lr = 0.15)

# for loops 돌아가며 파라미터 갱신
nb_epochs = 10
for epoch in range(1, nb_epochs+1):
    # 예측 및 loss값 계산
    hypothesis = W * x_train
    loss = torch.mean((hypothesis - y_train)**2)
    
    print('Epoch: {:4d}/{} W: {:.3f}, Cost: {:.6f}'.format(epoch, nb_epochs, W.item(), loss.item()))
    
    # backward()매서드에 loss값 넣어 loss gradient값 계산하고 이 값을 optimizer.step()매서드에 넣어
    # 결과적으로 loss 감소시키기(모델 학습)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""

SEED_OPTIM_OUTPUT = """\
Epoch:    1/10 W: 0.000, Cost: 4.666667
Epoch:    2/10 W: 1.400, Cost: 0.746667
Epoch:    3/10 W: 0.840, Cost: 0.119467
Epoch:    4/10 W: 1.064, Cost: 0.019115
Epoch:    5/10 W: 0.974, Cost: 0.003058
Epoch:    6/10 W: 1.010, Cost: 0.000489
Epoch:    7/10 W: 0.996, Cost: 0.000078
Epoch:    8/10 W: 1.002, Cost: 0.000013
Epoch:    9/10 W: 0.999, Cost: 0.000002
Epoch:   10/10 W: 1.000, Cost: 0.000000
"""


def seed_notebook(gd_output: str = SEED_GD_OUTPUT) -> nbformat.NotebookNode:
    stdout = lambda text: v4.new_output("stream", name="stdout", text=text)  # noqa: E731
    return v4.new_notebook(cells=[
        v4.new_markdown_cell("학습목표\n\n경사하강법(Gradient descent)에 대해 더 자세히 알아본다."),
        v4.new_markdown_cell("# 경사하강법 심화\n\n핵심키워드\n\n* 경사하강법(Gradient descent)"),
        v4.new_code_cell("%matplotlib inline\n!pip install torch\nimport torch", outputs=[]),
        v4.new_markdown_cell("## Gradient Descent: Full Code(w/o optimizer)\n\ntorch.sum으로 할때 수렴이 훨씬 빠르다."),
        v4.new_code_cell(SEED_GD, outputs=[stdout(gd_output)]),
        v4.new_markdown_cell("## Gradient Descent w/ torch.optim\n\ntorch.optim 사용하면 더 편하다."),
        v4.new_code_cell(SEED_OPTIM, outputs=[
            stdout(SEED_OPTIM_OUTPUT),
            v4.new_output("stream", name="stderr", text="  allow_unreachable=True)  # allow_unreachable flag\n"),
        ]),
        v4.new_code_cell("W", outputs=[
            v4.new_output("execute_result", data={"text/plain": "tensor([1.0000], requires_grad=True)"},
                          execution_count=4),
        ]),
        v4.new_code_cell("history = [4.666667, 0.746667]  # plotted in the notebook", outputs=[
            v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        ]),
        v4.new_code_cell("W.grad?"),
    ])


def write_notebook(path: Path, nb: nbformat.NotebookNode) -> Path:
    nbformat.write(nb, path)
    return path


def test_seed_notebook_imports_and_reproduces_its_numbers(tmp_path, tutor):
    nb = write_notebook(tmp_path / "gd.ipynb", seed_notebook())
    (tmp_path / "lessons").mkdir()

    code, out, err = tutor(tmp_path, "import", str(nb), "-o", "lessons/03-gd-deeper.md", "--lang", "ko")

    assert code == 0, err
    assert out == f"{Path('lessons') / '03-gd-deeper.md'}\n"
    assert "stderr" in err and "image/png" in err and "norun" in err
    path = tmp_path / "lessons" / "03-gd-deeper.md"
    assert tutor(tmp_path, "check", str(path))[0] == 0
    code, out, err = tutor(tmp_path, "check", "--run", str(path))
    assert code == 0, out + err

    lesson = load_lesson(path)
    assert lesson.id == "gd-deeper"
    assert (lesson.title.ko, lesson.title.en) == ("경사하강법 심화", "경사하강법 심화")
    assert [s.title.ko for s in lesson.sections[1:]] == [
        "Gradient Descent: Full Code(w/o optimizer)", "Gradient Descent w/ torch.optim",
    ]
    assert "학습목표" in lesson.sections[0].prose.ko and "핵심키워드" in lesson.sections[0].prose.ko
    assert "학습목표" not in lesson.sections[0].prose.en
    assert [c.norun for c in lesson.cells] == [False, False, False, False, False, True]
    assert lesson.cells[1].expected.text.strip() == SEED_GD_OUTPUT.strip()
    assert lesson.cells[2].expected.text.strip() == SEED_OPTIM_OUTPUT.strip()
    assert lesson.cells[3].expected.text.strip() == "tensor([1.0000], requires_grad=True)"
    assert lesson.cells[4].expected is None  # the image is dropped
    assert "# %matplotlib inline" in lesson.cells[0].source


def test_wrong_numbers_in_the_notebook_fail_check_run(tmp_path, tutor):
    """The comparison is real: one changed cost makes the imported lesson fail."""
    wrong = SEED_GD_OUTPUT.replace("Cost: 0.650132", "Cost: 0.650932")
    nb = write_notebook(tmp_path / "gd.ipynb", seed_notebook(wrong))
    assert tutor(tmp_path, "import", str(nb), "-o", str(tmp_path / "01-gd.md"))[0] == 0
    code, out, err = tutor(tmp_path, "check", "--run", str(tmp_path / "01-gd.md"))
    assert code == 1
    assert "01-gd.md:" in out + err


def test_without_output_goes_to_lessons_with_next_number(tmp_path, tutor):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "04-old.md").write_text("---\nid: old\ntitle:\n  en: O\n  ko: O\n---\n", encoding="utf-8")
    nb = write_notebook(tmp_path / "02 Linear Regression (v2).ipynb", seed_notebook())

    code, out, _ = tutor(tmp_path, "import", str(nb))

    assert code == 0
    assert out == f"{Path('lessons') / '05-linear-regression-v2.md'}\n"
    assert load_lesson(lessons / "05-linear-regression-v2.md").id == "linear-regression-v2"


def test_refuses_to_overwrite(tmp_path, tutor):
    nb = write_notebook(tmp_path / "gd.ipynb", seed_notebook())
    target = tmp_path / "01-gd.md"
    target.write_text("mine\n", encoding="utf-8")
    code, out, err = tutor(tmp_path, "import", str(nb), "-o", str(target))
    assert code == 2 and out == "" and err.count("\n") == 1 and "already exists" in err
    assert target.read_text(encoding="utf-8") == "mine\n"


def test_refuses_an_id_in_use(tmp_path, tutor):
    nb = write_notebook(tmp_path / "gd.ipynb", seed_notebook())
    (tmp_path / "01-first.md").write_text("---\nid: gd\ntitle:\n  en: A\n  ko: A\n---\n", encoding="utf-8")
    code, _, err = tutor(tmp_path, "import", str(nb), "-o", str(tmp_path / "02-gd.md"))
    assert code == 2 and "'gd'" in err and not (tmp_path / "02-gd.md").exists()


@pytest.mark.parametrize(
    "name, content",
    [
        ("text.ipynb", b"just some text\n"),
        ("list.ipynb", b"[1, 2]"),
        ("other.ipynb", b'{"hello": "world"}'),
        ("binary.ipynb", b"\xff\xfe\x00\x01"),
    ],
)
def test_not_a_notebook(tmp_path, tutor, name, content):
    (tmp_path / name).write_bytes(content)
    code, out, err = tutor(tmp_path, "import", name, "-o", "01-x.md")
    assert code == 2 and out == ""
    assert err.startswith("tutor: error: ") and err.count("\n") == 1 and "not a Jupyter notebook" in err
    assert not (tmp_path / "01-x.md").exists()


def test_missing_notebook(tmp_path, tutor):
    code, _, err = tutor(tmp_path, "import", "nope.ipynb", "-o", "01-x.md")
    assert code == 2 and "cannot read nope.ipynb" in err and err.count("\n") == 1


@pytest.mark.parametrize("output", ["01-Bad_Name.md", "01-x.txt", "missing-dir/01-x.md"])
def test_bad_output_names(tmp_path, tutor, output):
    nb = write_notebook(tmp_path / "gd.ipynb", seed_notebook())
    code, _, err = tutor(tmp_path, "import", str(nb), "-o", output)
    assert code == 2 and err.count("\n") == 1


def test_lang_en_puts_prose_in_english_blocks(tmp_path, tutor):
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell("# Tensors\n\nA tensor is an array.\n\n## Shapes\n\nRows and columns."),
        v4.new_code_cell("import torch\ntorch.zeros(2, 3).shape", outputs=[
            v4.new_output("execute_result", data={"text/plain": "torch.Size([2, 3])"}, execution_count=1),
        ]),
    ])
    write_notebook(tmp_path / "tensors.ipynb", nb)
    assert tutor(tmp_path, "import", "tensors.ipynb", "-o", "01-tensors.md", "--lang", "en")[0] == 0
    text = (tmp_path / "01-tensors.md").read_text(encoding="utf-8")
    assert "::: en\nA tensor is an array.\n:::" in text and "::: ko" not in text.splitlines()
    assert "ko: Tensors  # TODO: translate into Korean" in text
    assert tutor(tmp_path, "check", "--run", "01-tensors.md")[0] == 0
    lesson = load_lesson(tmp_path / "01-tensors.md")
    assert lesson.sections[1].prose.en.strip() == "Rows and columns."


# --- the pure conversion -------------------------------------------------------


def test_valid_python_is_kept_verbatim():
    code = "x = 7 % 3\ns = '''\n%not a magic\n!nor this\n'''"
    assert convert_code(code) == (code, False, [])


def test_magics_and_shell_lines_are_commented_out():
    code, norun, notes = convert_code("%time x = 1\n!pip install \\\n    torch\ny = 2")
    lines = code.splitlines()
    assert lines[0].startswith("# %time x = 1") and lines[1].startswith("# !pip install")
    assert lines[2].lstrip().startswith("# torch") and lines[3] == "y = 2"
    assert not norun and notes == ["3 IPython magic/shell line(s) commented out"]


def test_python_cell_magic_keeps_its_body():
    code, norun, _ = convert_code("%%time\nx = 1")
    assert not norun and code.splitlines()[1] == "x = 1"


def test_other_cell_magics_and_syntax_errors_are_norun():
    assert convert_code("%%bash\nls -l")[1] is True
    code, norun, notes = convert_code("def f(:\n    pass")
    assert norun and code == "def f(:\n    pass" and "line 1" in notes[0]


def test_markdown_fences_and_colons_cannot_become_cells_or_blocks():
    nb = v4.new_notebook(cells=[v4.new_markdown_cell(
        "Example:\n\n```python\nx = 1\n```\n\n```output\n1\n```\n\n::: not a block"
    )])
    text = notebook_to_lesson(nb, "m", "en").text
    assert "```py\nx = 1" in text and "```py\n1" in text and "\\::: not a block" in text
    assert "```python" not in text and "```output" not in text


def test_markdown_python3_fences_are_kept_shown_without_a_check_warning(tmp_path):
    """`python3` / `Python` fences would be checker warnings (docs/decisions.md)."""
    from tutor.engine import checker

    nb = v4.new_notebook(cells=[v4.new_markdown_cell(
        "Example:\n\n```python3\nx = 1\n```\n\n~~~Python\ny = 2\n~~~")])
    text = notebook_to_lesson(nb, "m", "en").text
    assert "```py\nx = 1" in text and "~~~py\ny = 2" in text
    path = tmp_path / "m.md"
    path.write_text(text, encoding="utf-8")
    lesson, problems = checker.check_file(path)
    assert lesson is not None and lesson.cells == ()
    assert [p for p in problems if "fence" in p.message] == []


def test_outputs_with_fences_get_a_longer_fence():
    assert fence_for("a\n```\nb") == "````"
    assert fence_for("plain") == "```"
    nb = v4.new_notebook(cells=[v4.new_code_cell("print('```')", outputs=[
        v4.new_output("stream", name="stdout", text="```\n"),
    ])])
    assert "````output\n```\n````" in notebook_to_lesson(nb, "f", "en").text


def test_heading_with_the_language_separator():
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("## a | b\n\ntext")])
    conversion = notebook_to_lesson(nb, "h", "ko")
    assert "## a / b" in conversion.text and any("' | '" in n for n in conversion.notes)


def test_title_falls_back_to_the_id():
    conversion = notebook_to_lesson(v4.new_notebook(cells=[]), "linear-fit", "en")
    assert conversion.title == "Linear fit"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30))
def test_yaml_scalar_round_trips(value):
    assert yaml.safe_load(f"key: {yaml_scalar(value)}  # comment\n")["key"] == value


def test_guess_language():
    from tutor.engine.notebook import guess_language

    assert guess_language(["경사하강법(Gradient descent)에 대해 더 자세히 알아본다."]) == "ko"
    assert guess_language(["Gradient descent, step by step (한)"]) is None  # mostly Latin, some Hangul
    assert guess_language(["Gradient descent, step by step."]) == "en"
    assert guess_language(["", "1 + 1 = 2"]) is None


def test_a_language_mismatch_is_reported(tmp_path, tutor):
    nb = write_notebook(tmp_path / "gd.ipynb", seed_notebook())
    code, _, err = tutor(tmp_path, "import", str(nb), "-o", "01-gd.md", "--lang", "en")
    assert code == 0 and "looks Korean" in err and "--lang ko" in err
    code, _, err = tutor(tmp_path, "import", str(nb), "-o", "02-gd2.md", "--lang", "ko")
    assert code == 0 and "looks" not in err


def test_an_old_v3_notebook_is_upgraded(tmp_path, tutor):
    from nbformat import v3

    nb = v3.new_notebook(worksheets=[v3.new_worksheet(cells=[
        v3.new_text_cell("markdown", source="# Old\n\nText."),
        v3.new_code_cell(input="print(6 * 7)", outputs=[v3.new_output("stream", output_text="42\n", stream="stdout")]),
    ])])
    nbformat.write(nb, tmp_path / "old.ipynb", version=3)
    assert tutor(tmp_path, "import", "old.ipynb", "-o", "01-old.md", "--lang", "en")[0] == 0
    lesson = load_lesson(tmp_path / "01-old.md")
    assert lesson.title.en == "Old" and lesson.cells[0].expected.text.strip() == "42"
    assert tutor(tmp_path, "check", "--run", "01-old.md")[0] == 0


def test_a_notebook_that_redraws_its_output_with_clear_output_imports_and_passes(tmp_path, tutor):
    """`from IPython.display import clear_output` (IPython is not installed with tutor) is
    commented out on import: display() and clear_output() are lesson builtins. A cell
    that clears its output every epoch saved only its last print, and check --run
    compares that: what is left at the cell's end."""
    stdout = lambda text: v4.new_output("stream", name="stdout", text=text)  # noqa: E731
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell("# Live output\n\nA progress line redrawn each epoch."),
        v4.new_code_cell("from IPython.display import clear_output, display\nimport torch", outputs=[]),
        v4.new_code_cell("W = torch.zeros(1)\nfor epoch in range(3):\n    W += 1\n    clear_output(wait=True)\n"
                         "    print('epoch', epoch, 'W', W.item())\ndisplay(W)",
                         outputs=[stdout("epoch 2 W 3.0\n"),
                                  v4.new_output("display_data", data={"text/plain": "tensor([3.])"})]),
    ])
    path = write_notebook(tmp_path / "live.ipynb", nb)
    (tmp_path / "lessons").mkdir()
    code, _, err = tutor(tmp_path, "import", str(path), "-o", "lessons/01-live.md")
    assert code == 0, err
    assert "display() and clear_output() are lesson builtins" in err
    assert "IPython, which is not installed" not in err
    lesson_path = tmp_path / "lessons" / "01-live.md"
    lesson = load_lesson(lesson_path)
    assert lesson.cells[0].source.startswith("# from IPython.display import clear_output, display")
    code, out, err = tutor(tmp_path, "check", "--run", str(lesson_path))
    assert code == 0, out + err
    assert "1 output blocks matched" in out or "1 output block matched" in out, out
