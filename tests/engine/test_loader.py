"""The loader: Markdown lesson files → Lesson, discovery, lookup, and robustness."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tutor.engine import loader
from tutor.engine.lesson import Cell, Lesson, OutputBlock, Section, Text
from tutor.engine.loader import LessonError, discover, find_lesson, load_lesson


def test_sample_lesson_loads_exactly(write_lesson, sample_lesson_text):
    path = write_lesson(sample_lesson_text)
    expected = Lesson(
        id="sample",
        title=Text(en="A sample lesson", ko="예제 레슨"),
        path=path,
        summary=Text(en="One cell and a loop.", ko="셀 하나와 루프."),
        sections=(
            Section(0, Text("A sample lesson", "예제 레슨"),
                    Text(en="Shared introduction.\n\nEnglish introduction.",
                         ko="Shared introduction.\n\n한국어 소개."), line=1),
            Section(1, Text("Tensors", "텐서"),
                    Text(en="Make **a tensor**.", ko="**텐서**를 만듭니다."), line=21, cells=(0,)),
            Section(2, Text("Training", "Training"), Text.both("Both languages see this."), line=40,
                    cells=(1, 2), hints=(Text(en="Halve the step.", ko="걸음을 반으로."),)),
        ),
        cells=(
            Cell(0, "x = 2\nx * 3\n", 32, 1, expected=OutputBlock("6\n", 36)),
            Cell(1, "lr = 0.1\nw = 1.0\nfor step in range(3):\n    cost = w * w\n    w -= lr * 2 * w\n",
                 45, 2),
            Cell(2, "w = = 1\n", 53, 2, norun=True),
        ),
    )
    assert load_lesson(path) == expected


def test_cell_line_points_at_its_first_code_line(write_lesson, sample_lesson_text):
    path = write_lesson(sample_lesson_text)
    lines = path.read_text(encoding="utf-8").split("\n")
    for cell in load_lesson(path).cells:
        assert lines[cell.line - 1] == cell.source.split("\n")[0]
        assert lines[cell.fence_line - 1].startswith("```python")


def test_front_matter_options(write_lesson):
    text = "---\nid: opts\ntitle: {en: T, ko: 티}\ncost: err\nlr: alpha\nseed: 7\n---\n"
    lesson = load_lesson(write_lesson(text))
    assert (lesson.cost_name, lesson.lr_name, lesson.seed) == ("err", "alpha", 7)
    default = load_lesson(write_lesson("---\nid: d\ntitle: {en: T, ko: 티}\n---\n", name="02-d.md"))
    assert (default.cost_name, default.lr_name, default.seed, default.summary) == (None, "lr", 0, Text())
    assert default.sections == (Section(0, Text("T", "티"), Text(), 1),)


def test_other_fences_are_prose_and_cells_are_cut_out_of_it(write_lesson):
    text = (
        "---\nid: p\ntitle: {en: T, ko: 티}\n---\n"
        "Before the cell.\n"
        "```python\nx = 1\n```\n"
        "After the cell.\n"
        "```text\nliteral\n\n\nblock\n```\n"
        "```py\ny = 2\n```\n"
    )
    lesson = load_lesson(write_lesson(text))
    assert [c.source for c in lesson.cells] == ["x = 1\n"]
    assert lesson.sections[0].prose.en == (
        "Before the cell.\n\nAfter the cell.\n```text\nliteral\n\nblock\n```\n```py\ny = 2\n```"
    )


def test_deeper_headings_and_headings_in_blocks_stay_prose(write_lesson):
    text = (
        "---\nid: h\ntitle: {en: T, ko: 티}\n---\n"
        "## One | 하나\n### Detail\n::: en\n## Not a section\n:::\n## Two ##\n"
    )
    lesson = load_lesson(write_lesson(text))
    assert [s.title for s in lesson.sections[1:]] == [Text("One", "하나"), Text("Two", "Two")]
    assert lesson.sections[1].prose == Text(en="### Detail\n\n## Not a section", ko="### Detail")
    assert lesson.sections[2].line == 10


def test_shared_hint_and_hints_belong_to_their_section(write_lesson):
    text = (
        "---\nid: h\ntitle: {en: T, ko: 티}\n---\n"
        "::: hint\nIntro hint.\n:::\n"
        "## A | 가\ntext\n::: hint\nFirst.\n:::\n::: hint\nSecond `code`.\n:::\nafter\n"
    )
    lesson = load_lesson(write_lesson(text))
    assert lesson.sections[0].hints == (Text.both("Intro hint."),)
    assert lesson.sections[1].hints == (Text.both("First."), Text.both("Second `code`."))
    assert lesson.sections[1].prose == Text.both("text\n\nafter")


@pytest.mark.parametrize(
    "markdown,line",
    [
        ("> ```python\n> x = 1\n> ```", 6),  # in a block quote
        ("- a\n  - b\n\n    ```python\n    x = 1\n    ```", 9),  # in a nested list
        ("```python\nx = 1\n   ```", 6),  # closer indented by 3: still a closer
        ("::: en\ntext\n:::\n```python\nx = 1\n```", 9),  # no trailing newline
    ],
)
def test_closed_fences_in_other_blocks_are_cells(write_lesson, markdown, line):
    lesson = load_lesson(write_lesson("---\nid: f\ntitle: {en: T, ko: 티}\n---\n" + markdown))
    assert [(c.source, c.line) for c in lesson.cells] == [("x = 1\n", line)]


def test_crlf_and_byte_order_mark(write_lesson, sample_lesson_text):
    text = "\ufeff" + sample_lesson_text.replace("\n", "\r\n")
    lesson = load_lesson(write_lesson(text))
    plain = load_lesson(write_lesson(sample_lesson_text, name="02-plain.md"))
    assert lesson.cells == plain.cells and lesson.sections == plain.sections


def test_output_block_attaches_across_blank_lines_only(write_lesson):
    text = "---\nid: o\ntitle: {en: T, ko: 티}\n---\n```python\nprint(1)\n```\n\n\n```output\n1\n```\n"
    cell = load_lesson(write_lesson(text)).cells[0]
    assert cell.expected == OutputBlock("1\n", 10)


def test_lesson_error_format():
    assert str(LessonError(Path("l/01-a.md"), 7, "bad thing")) == "l/01-a.md:7: bad thing"
    assert str(LessonError(Path("l"), None, "empty")) == "l: empty"
    error = LessonError("x.md", 2, "m")
    assert (error.path, error.line, error.message) == (Path("x.md"), 2, "m")


def test_missing_file_is_a_lesson_error(tmp_path):
    with pytest.raises(LessonError) as caught:
        load_lesson(tmp_path / "nope.md")
    assert caught.value.path == tmp_path / "nope.md" and "cannot read" in caught.value.message


# --- discover, find_lesson, bundled lessons ------------------------------------------


def test_discover_sorts_by_file_name_and_reports_invalid_files(write_lesson, tmp_path, sample_lesson_text):
    lessons_dir = tmp_path / "lessons"
    write_lesson(sample_lesson_text.replace("id: sample", "id: second"), name="10-second.md")
    write_lesson(sample_lesson_text, name="02-first.md")
    bad = write_lesson("---\nid: bad\n", name="05-bad.md")
    (lessons_dir / "notes.txt").write_text("not a lesson")
    lessons, errors = discover(lessons_dir)
    assert [lesson.id for lesson in lessons] == ["sample", "second"]
    assert [str(e) for e in errors] == [f"{bad}:1: front matter is not closed: no second '---' line"]


def test_discover_keeps_the_first_of_two_lessons_with_one_id(write_lesson, tmp_path, sample_lesson_text):
    write_lesson(sample_lesson_text, name="01-a.md")
    second = write_lesson(sample_lesson_text, name="02-b.md")
    lessons, errors = discover(tmp_path / "lessons")
    assert [lesson.path.name for lesson in lessons] == ["01-a.md"]
    assert [str(e) for e in errors] == [f"{second}:2: duplicate id 'sample' (also in 01-a.md)"]


def test_discover_missing_or_empty_directory(tmp_path):
    lessons, errors = discover(tmp_path / "missing")
    assert lessons == [] and [str(e) for e in errors] == [f"{tmp_path / 'missing'}: lesson directory not found"]
    (tmp_path / "empty").mkdir()
    lessons, errors = discover(tmp_path / "empty")
    assert lessons == [] and len(errors) == 1 and "no lesson files" in errors[0].message


def test_find_lesson_by_id_and_by_path(write_lesson, tmp_path, sample_lesson_text):
    path = write_lesson(sample_lesson_text)
    write_lesson(sample_lesson_text.replace("id: sample", "id: other"), name="02-other.md")
    assert find_lesson("other", tmp_path / "lessons").id == "other"
    assert find_lesson(str(path), tmp_path / "elsewhere").path == path
    with pytest.raises(LessonError) as caught:
        find_lesson("nothing", tmp_path / "lessons")
    assert "unknown lesson 'nothing'" in str(caught.value) and "sample, other" in str(caught.value)
    with pytest.raises(LessonError, match="no such lesson file"):
        find_lesson(str(tmp_path / "missing.md"), tmp_path / "lessons")
    with pytest.raises(LessonError, match="lesson directory not found"):
        find_lesson("sample", tmp_path / "missing")


def test_bundled_lessons_dir_in_a_source_checkout():
    bundled = loader.bundled_lessons_dir()
    assert bundled == Path(__file__).resolve().parents[2] / "lessons"
    lessons, errors = discover(bundled)
    assert lessons and errors == []


# --- robustness: random and mutated text --------------------------------------------

FRAGMENTS = [
    "---\n", "id: x\n", "title: {en: T, ko: 티}\n", "title:\n  en: a\n", "::: en\n", "::: ko\n",
    ":::\n", "::::\n", ":::: hint\n", "::: hint\n", "```python\n", "```python norun\n",
    "```output\n", "```\n", "````\n", "~~~\n", "## A | 가\n", "## \n", "x = 1\n", "  - item\n",
    "> quote\n", "\n", "seed: -3\n", "cost: [\n", "\t\x00\r\n", "\ufeff", "é", "<!-- c -->\n",
]


def _assert_loads_or_located_error(path: Path) -> None:
    try:
        lesson = load_lesson(path)
    except LessonError as exc:
        assert exc.path == path
        lines = path.read_bytes().count(b"\n") + 1
        assert isinstance(exc.line, int) and 1 <= exc.line <= lines, exc
        assert str(exc).startswith(f"{path}:{exc.line}: ")
    else:
        assert isinstance(lesson, Lesson) and lesson.sections


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30))
def test_fragment_soup_loads_or_raises_a_located_error(tmp_path, fragments):
    path = tmp_path / "soup.md"
    path.write_text("".join(fragments), encoding="utf-8", newline="")
    _assert_loads_or_located_error(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_sample_loads_or_raises_a_located_error(tmp_path, sample_lesson_text, data):
    text = sample_lesson_text.encode("utf-8")
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        kind = data.draw(st.sampled_from(["delete", "insert", "bytes"]))
        if kind == "delete":
            text = text[:at] + text[at + data.draw(st.integers(1, 40)):]
        elif kind == "insert":
            text = text[:at] + data.draw(st.sampled_from(FRAGMENTS)).encode("utf-8") + text[at:]
        else:
            text = text[:at] + data.draw(st.binary(max_size=4)) + text[at:]
    path = tmp_path / "mutated.md"
    path.write_bytes(text)
    _assert_loads_or_located_error(path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_arbitrary_text_loads_or_raises_a_located_error(tmp_path, text):
    path = tmp_path / "any.md"
    path.write_text(text, encoding="utf-8", errors="surrogatepass", newline="")
    _assert_loads_or_located_error(path)
