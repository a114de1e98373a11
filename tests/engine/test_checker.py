"""Every `tutor check` rule, each reported at the right line (docs/lesson-format.md)."""

from __future__ import annotations

import pytest

from tutor.engine import checker, loader

# Four lines of front matter: the body starts at line 5.
FM = "---\nid: t\ntitle: {en: T, ko: 티}\n---\n"
EN_KO = "::: en\nHello.\n:::\n::: ko\n안녕.\n:::\n"


def body(*lines: str) -> str:
    return FM + "".join(line + "\n" for line in lines)


# (lesson text, line, words in the message); all of these are errors that the
# loader raises too (load_lesson stops at the first).
LOADER_ERRORS = {
    "missing front matter": ("# Title\n\ntext\n", 1, "missing front matter"),
    "unclosed front matter": ("---\nid: t\ntitle: {en: T, ko: 티}\n\ntext\n", 1, "not closed"),
    "invalid yaml": ("---\nid: t\ntitle: [en: T\nseed: 1\n---\n", 4, "not valid YAML"),
    "front matter not a mapping": ("---\n- a\n- b\n---\n", 1, "must be a YAML mapping"),
    "missing id": ("---\ntitle: {en: T, ko: 티}\n---\n", 1, "missing front matter key 'id'"),
    "malformed id": ("---\ntitle: {en: T, ko: 티}\nid: Bad_Id\n---\n", 3, "a-z, 0-9"),
    "id not a string": ("---\nid: 12\ntitle: {en: T, ko: 티}\n---\n", 2, "a-z, 0-9"),
    "missing title": ("---\nid: t\n---\n", 1, "missing front matter key 'title'"),
    "title not a mapping": ("---\nid: t\ntitle: Just one\n---\n", 3, "title must be a mapping"),
    "title without ko": ("---\nid: t\ntitle:\n  en: T\n---\n", 3, "title.ko is missing"),
    "empty title": ("---\nid: t\ntitle: {en: '', ko: 티}\n---\n", 3, "title.en is missing"),
    "malformed summary": ("---\nid: t\ntitle: {en: T, ko: 티}\nsummary: text\n---\n", 4,
                          "summary must be a mapping"),
    "cost not a name": ("---\nid: t\ntitle: {en: T, ko: 티}\ncost: my cost\n---\n", 4,
                        "cost must be a Python variable name"),
    "lr not a name": ("---\nid: t\ntitle: {en: T, ko: 티}\nlr: 0.1\n---\n", 4,
                      "lr must be a Python variable name"),
    "seed not an int": ("---\nid: t\ntitle: {en: T, ko: 티}\nseed: '3'\n---\n", 4, "seed must be"),
    "seed a bool": ("---\nid: t\ntitle: {en: T, ko: 티}\nseed: true\n---\n", 4, "seed must be"),
    "seed negative": ("---\nid: t\ntitle: {en: T, ko: 티}\nseed: -1\n---\n", 4, "seed must be"),
    "duplicate key": ("---\nid: t\ntitle: {en: T, ko: 티}\nid: u\n---\n", 4, "duplicate front matter key 'id'"),
    "unclosed python fence": (body("text", "", "```python", "x = 1", "", "more"), 7, "not closed"),
    "unclosed longer fence": (body("````python", "x = 1", "```", "y"), 5, "not closed"),
    "unclosed text fence": (body("```text", "a"), 5, "not closed"),
    "unclosed fence ending in an indented fence line": (body("text", "```python", "x", "    ```"), 6,
                                                        "not closed"),
    "unclosed fence in a list item": (body("- ```text", "  x", "", "after"), 5, "not closed"),
    "unclosed fence inside a language block": (
        body("::: en", "```python", "x = 1", ":::"), 6, "not closed"),
    "unclosed language block": (body(EN_KO, "::: en", "text", "", "## Next", "more"), 12,
                                "'::: en' block is not closed"),
    "unclosed hint": (body("::: hint", "try"), 5, "'::: hint' block is not closed"),
    "unclosed block before its parent's end": (
        body(":::: hint", "::: en", "x", "::::"), 6, "'::: en' block is not closed"),
    "unclosed block ending in a colon line": (body("::: ko", "글", ":"), 5, "'::: ko' block is not closed"),
    "unclosed block in a quote": (body("> ::: en", "> x", "", "after"), 5, "'::: en' block is not closed"),
    "closer without opener": (body("text", ":::", "more"), 6, "closes no open block"),
    "closer after a closed block": (body("::: ko", "글", ":::", ":::"), 8, "closes no open block"),
    "unknown language name": (body("::: fr", "Bonjour", ":::"), 5, "unknown language block 'fr'"),
    "unknown block name": (body("::: note", "x", ":::"), 5, "unknown block '::: note'"),
    "language block inside a language block": (
        body(":::: en", "::: ko", "x", ":::", "::::"), 6, "inside another language block"),
    "hint inside a hint": (body(":::: hint", "::: hint", "x", ":::", "::::"), 6,
                           "hint block inside another hint"),
    "cell inside a language block": (body("::: en", "```python", "x = 1", "```", ":::"), 6,
                                     "inside a language block"),
    "cell inside a hint": (body("::: hint", "```python", "x = 1", "```", ":::"), 6,
                           "inside a hint block"),
    "unknown python option": (body("```python skip", "x = 1", "```"), 5, "unknown python fence option"),
    "unknown output option": (body("```python", "x", "```", "```output exact", "1", "```"), 8,
                              "unknown output fence option"),
    "output after prose": (body("```python", "x", "```", "", "text", "", "```output", "1", "```"), 11,
                           "no code cell directly before it"),
    "output first": (body("```output", "1", "```"), 5, "no code cell directly before it"),
    "second output block": (body("```python", "x", "```", "```output", "1", "```", "```output",
                                 "1", "```"), 11, "no code cell directly before it"),
    "output after a heading": (body("```python", "x", "```", "## Next", "```output", "1", "```"), 9,
                               "no code cell directly before it"),
    "empty section title": (body("## | 한국어", "text"), 5, "section heading needs a title"),
}


@pytest.mark.parametrize("text,line,words", LOADER_ERRORS.values(), ids=LOADER_ERRORS.keys())
def test_loader_error_rule(write_lesson, text, line, words):
    path = write_lesson(text)
    lesson, problems = checker.check_file(path)
    errors = [p for p in problems if p.is_error]
    assert lesson is None
    assert any(p.line == line and words in p.message for p in errors), problems
    assert str(errors[0]).startswith(f"{path}:{errors[0].line}: ")
    with pytest.raises(loader.LessonError) as caught:
        loader.load_lesson(path)
    assert caught.value.path == path and caught.value.line == errors[0].line


def test_not_utf8_reports_the_line_of_the_bad_byte(write_lesson):
    text = FM.encode() + "text\n한글\n".encode() + b"caf\xe9\n"
    path = write_lesson(text)
    _, problems = checker.check_file(path)
    assert [(p.line, p.is_error) for p in problems] == [(7, True)]
    assert "not UTF-8" in problems[0].message


@pytest.mark.parametrize(
    "source,line",
    [
        ("x = 1\nif x\n    pass\n", 8),  # the cell starts at line 7: error on its 2nd line
        ("x = (1,\n", 7),
        ("def f():\n    return 1\n  y = 2\n", 9),
    ],
)
def test_python_syntax_error_at_its_line_in_the_lesson(write_lesson, source, line):
    path = write_lesson(body("text", "```python", source.rstrip("\n"), "```"))
    lesson, problems = checker.check_file(path)
    assert lesson is None
    assert [(p.line, p.is_error) for p in problems] == [(line, True)]
    assert problems[0].message.startswith("Python syntax error")
    # The loader itself accepts it: the app shows the cell and the runner the error.
    assert loader.load_lesson(path).cells[0].line == 7


def test_norun_cells_may_hold_broken_code(write_lesson):
    lesson, problems = checker.check_file(write_lesson(body("```python norun", "x = = 1", "```")))
    assert problems == [] and lesson is not None and lesson.cells[0].norun


def test_duplicate_id_across_the_checked_set(write_lesson, tmp_path):
    first = write_lesson(FM, name="01-a.md")
    second = write_lesson("---\ntitle: {en: U, ko: 유}\nid: t\n---\n", name="02-b.md")
    third = write_lesson(FM.replace("id: t", "id: other"), name="03-c.md")
    lessons, problems = checker.check_files([first, second, third])
    assert [(p.path, p.line) for p in problems] == [(second, 3)]
    assert f"duplicate id 't' (also in {first})" in problems[0].message
    assert [lesson.path for lesson in lessons] == [first, third]


def test_every_problem_of_a_file_is_reported_in_line_order(write_lesson):
    path = write_lesson(body(
        "```python", "x = (", "```",  # 5: syntax error at 6
        "```output", "1", "```",  # attached: fine
        "```output", "2", "```",  # 11: orphan
        ":::",  # 14: stray closer
        "::: en", "open",  # 15: never closed
    ))
    _, problems = checker.check_file(path)
    assert [p.line for p in problems if p.is_error] == [6, 11, 14, 15]


# --- warnings -------------------------------------------------------------------------

TRAINING = "```python\nimport torch\nw = torch.zeros(1, requires_grad=True)\n```\n"


def warnings_of(write_lesson, text):
    lesson, problems = checker.check_file(write_lesson(text))
    assert lesson is not None, problems  # warnings never make a lesson invalid
    assert all(not p.is_error for p in problems)
    return [(p.line, p.message) for p in problems]


def test_unknown_front_matter_key_is_a_warning(write_lesson):
    text = "---\nid: t\ntitle: {en: T, ko: 티}\nauthor: me\n---\n"
    [(line, message)] = warnings_of(write_lesson, text)
    assert line == 4 and "unknown front matter key 'author'" in message


def test_title_with_other_language_keys_is_a_warning(write_lesson):
    text = "---\nid: t\ntitle: {en: T, ko: 티, fr: Té}\n---\n"
    [(line, message)] = warnings_of(write_lesson, text)
    assert line == 3 and "fr" in message


@pytest.mark.parametrize(
    "blocks,line,words",
    [
        (["::: ko", "한국어만.", ":::"], 13, "has Korean prose but no '::: en' block"),
        (["shared", "", "::: en", "English only.", ":::"], 15, "has English prose but no '::: ko'"),
    ],
)
def test_prose_in_one_language_only(write_lesson, blocks, line, words):
    text = body(EN_KO, "## Part | 부분", *blocks)
    [(got_line, message)] = warnings_of(write_lesson, text)
    assert got_line == line and words in message and "'Part'" in message


def test_prose_in_both_languages_or_shared_only_gives_no_warning(write_lesson):
    assert warnings_of(write_lesson, body("Shared only.", "## A | 가", EN_KO, "## B", "shared")) == []


def test_hint_in_one_language_only(write_lesson):
    text = body(":::: hint", "::: en", "Only English.", ":::", "::::")
    [(line, message)] = warnings_of(write_lesson, text)
    assert line == 5 and "hint has no '::: ko' text" in message


def test_section_heading_inside_a_block_is_a_warning(write_lesson):
    text = body(":::: hint", "## Not a section", "text", "::::")
    [(line, message)] = warnings_of(write_lesson, text)
    assert line == 6 and "'##' heading inside a '::: hint' block is prose" in message
    found = warnings_of(write_lesson, body(EN_KO, "::: ko", "## 제목", ":::"))
    assert [line for line, _ in found] == [13]


def test_output_after_norun_cell(write_lesson):
    text = body("```python norun", "x", "```", "```output", "1", "```")
    [(line, message)] = warnings_of(write_lesson, text)
    assert line == 8 and "norun" in message


LOOP_NO_COST = "for i in range(3):\n    h = (w * 2).sum()\n    h.backward()\n"


def test_training_loop_without_cost_or_loss(write_lesson):
    text = body(TRAINING + "```python\nlr = 0.1\n" + LOOP_NO_COST + "```")
    found = warnings_of(write_lesson, text)
    # Cell 1 starts at line 10; the loop is its second line.
    assert [line for line, _ in found] == [11]
    assert "neither 'cost' nor 'loss' is ever assigned" in found[0][1]


def test_training_loop_with_named_cost_that_is_never_assigned(write_lesson):
    text = FM.replace("---\n", "---\ncost: err\n", 1)
    text = text + TRAINING + "```python\nlr = 1\nfor i in range(2):\n    loss = w.sum()\n" \
        "    loss.backward()\n```\n"
    found = warnings_of(write_lesson, text)
    # Front matter of five lines: cell 1 starts at line 11, its loop at 12.
    assert [line for line, _ in found] == [12]
    assert "cost variable 'err' (front matter 'cost') is never assigned" in found[0][1]


@pytest.mark.parametrize("name", ["cost", "loss"])
def test_training_loop_with_cost_or_loss_is_fine(write_lesson, name):
    loop = f"```python\nlr = 0.1\nwhile True:\n    {name} = w.sum()\n    {name}.backward()\n    break\n```\n"
    assert warnings_of(write_lesson, FM + TRAINING + loop) == []


def test_lr_with_no_effect(write_lesson):
    loop = "```python\nfor i in range(2):\n    cost = w.sum()\n    cost.backward()\n" \
           "    with torch.no_grad():\n        w -= 0.1 * w.grad\n```\n"
    found = warnings_of(write_lesson, FM + TRAINING + loop)
    assert [line for line, _ in found] == [10]
    assert "no assignment to 'lr' and no torch.optim optimizer" in found[0][1]


def test_lr_with_a_renamed_variable_must_assign_that_name(write_lesson):
    loop = "```python\nlr = 0.1\nfor i in range(2):\n    cost = w.sum()\n    cost.backward()\n```\n"
    text = FM.replace("---\n", "---\nlr: alpha\n", 1) + TRAINING + loop
    found = warnings_of(write_lesson, text)
    assert len(found) == 1 and "no assignment to 'alpha'" in found[0][1]
    assert warnings_of(write_lesson, text.replace("lr = 0.1", "alpha = 0.1")) == []


@pytest.mark.parametrize(
    "setup",
    [
        "optimizer = torch.optim.SGD([w], lr=0.1)",
        "import torch.optim as optim\noptimizer = optim.Adam([w])",
        "from torch.optim import SGD\nopt = SGD([w], lr=0.1)",
        "import torch.optim as o\nopt = o.SGD([w], lr=0.1)",
    ],
)
def test_an_optimizer_lets_the_lr_field_work(write_lesson, setup):
    setup_cell = f"```python\n{setup}\n```\n"
    loop = "```python\nfor i in range(2):\n    cost = w.sum()\n    cost.backward()\n    opt.step()\n```\n"
    assert warnings_of(write_lesson, FM + TRAINING + setup_cell + loop) == []


def test_loops_that_do_not_train_give_no_code_warnings(write_lesson):
    loop = "```python\ntotal = 0\nfor i in range(3):\n    total += i\n```\n"
    nested = "```python\ndef train():\n    for i in range(3):\n        w.sum().backward()\n```\n"
    norun = "```python norun\nfor i in range(3):\n    w.sum().backward()\n```\n"
    assert warnings_of(write_lesson, FM + TRAINING + loop + nested + norun) == []


def test_problem_str_formats():
    from pathlib import Path

    assert str(checker.Problem(Path("a.md"), 3, "bad")) == "a.md:3: bad"
    assert str(checker.Problem(Path("a.md"), 3, "meh", checker.WARNING)) == "a.md:3: warning: meh"
    assert str(checker.Problem(Path("d"), None, "empty")) == "d: empty"


# --- exact wording of the messages a writer meets most (issue 17) ------------------------

EXACT = {
    "unclosed ko block mid-file, at its opening line": (
        body(EN_KO, "::: ko", "안녕.", "", "## Next | 다음", EN_KO),
        [(12, "error", "'::: ko' block is not closed before '::: en' at line 16 "
                       "(add a ':::' line before it)"),
         (15, "warning", "'##' heading inside a '::: ko' block is prose, not a section")]),
    "unclosed en block before a ko block": (
        body("::: en", "Hello.", "::: ko", "안녕.", ":::"),
        [(5, "error", "'::: en' block is not closed before '::: ko' at line 7 "
                      "(add a ':::' line before it)")]),
    "hint with three colons holding language blocks": (
        body("::: hint", "::: en", "E", ":::", "::: ko", "K", ":::", ":::"),
        [(5, "error", "'::: hint' block is not closed before '::: en' at line 6 (close it "
                      "there, or, to hold the inner block, open it with ':::: hint' and close "
                      "it with '::::')"),
         (12, "error", "':::' closes no open block")]),
    "four-colon hint closed by three colons": (
        body(":::: hint", "::: en", "E", ":::", "::: ko", "K", ":::", ":::", "", "after"),
        [(12, "error", "':::' does not close the ':::: hint' block opened at line 5: "
                       "it needs '::::' (4 colons)")]),
    "four-colon block never closed": (
        body(":::: hint", "::: en", "E", ":::"),
        [(5, "error", "':::: hint' block is not closed (no '::::' line)")]),
    "python3 fence": (
        body("```python3", "x = 1", "```"),
        [(5, "warning", "fence '```python3' is prose, never run or compared: write '```python' "
                        "for a code cell, or '```text' to keep it as shown text")]),
    "Python fence": (
        body("~~~Python", "x = 1", "~~~"),
        [(5, "warning", "fence '~~~Python' is prose, never run or compared: write '~~~python' "
                        "for a code cell, or '~~~text' to keep it as shown text")]),
    "Output fence": (
        body("```python", "print(1)", "```", "```Output", "1", "```"),
        [(8, "warning", "fence '```Output' is prose, never run or compared: write '```output' "
                        "for an expected output block, or '```text' to keep it as shown text")]),
    "kr block": (
        body("::: en", "Hello.", ":::", "::: kr", "안녕.", ":::"),
        [(8, "error", "unknown language block 'kr' (known: ko, en; did you mean ko?)")]),
    "kr block with a blank line inside": (
        body("::: en", "Hello.", ":::", "::: kr", "안녕.", "", "더.", ":::"),
        [(8, "error", "unknown language block 'kr' (known: ko, en; did you mean ko?)")]),
    "misspelt hint": (
        body("::: hnt", "try", ":::"),
        [(5, "error", "unknown block '::: hnt' (expected '::: en', '::: ko' or '::: hint'; "
                      "did you mean hint?)")]),
    "title holding a colon": (
        "---\nid: t\ntitle: Intro: lesson\n---\n",
        [(3, "error", "front matter is not valid YAML: mapping values are not allowed in this "
                      "context; a value holding ': ' must be quoted: title: \"Intro: lesson\"")]),
    "nested title holding a colon": (
        "---\nid: t\ntitle:\n  en: Gradient descent: a first look\n  ko: 경사 하강법\n---\n",
        [(4, "error", "front matter is not valid YAML: mapping values are not allowed in this "
                      "context; a value holding ': ' must be quoted: "
                      "en: \"Gradient descent: a first look\"")]),
    "flow title holding a colon": (
        "---\nid: t\ntitle: {en: A: B, ko: 티}\n---\n",
        [(3, "error", "front matter is not valid YAML: did not find expected ',' or '}'; "
                      "a value holding ': ' must be quoted: en: \"A: B\"")]),
    "YAML error of another cause gets no quoting hint": (
        "---\nid: t\ntitle: [en: T\nseed: 1\n---\n",
        [(4, "error", "front matter is not valid YAML: did not find expected ',' or ']'")]),
}


@pytest.mark.parametrize("text,expected", EXACT.values(), ids=EXACT.keys())
def test_message_line_and_wording(write_lesson, text, expected):
    _, problems = checker.check_file(write_lesson(text))
    assert [(p.line, p.severity, p.message) for p in problems] == expected


def test_python_fence_variants_stay_prose(write_lesson):
    """The decision (docs/decisions.md): a warning, never a cell that runs unasked."""
    path = write_lesson(body("```python3", "x = 1", "```", "```py", "y = 2", "```"))
    lesson = loader.load_lesson(path)
    assert lesson.cells == () and "x = 1" in lesson.sections[0].prose.en


def test_unclosed_block_mid_file_is_the_first_error_of_load_lesson(write_lesson):
    path = write_lesson(body(EN_KO, "::: ko", "안녕.", "", "## Next | 다음", EN_KO))
    with pytest.raises(loader.LessonError) as caught:
        loader.load_lesson(path)
    assert caught.value.line == 12 and "'::: ko' block is not closed" in caught.value.message
