"""docs/authoring.md says only true things: its examples are checked by running them.

Convention for docs/authoring.md (writers of that file, read this):

- Every fenced block whose info string is exactly `markdown` is an example that
  must pass `tutor check --run` silently (no problem, not even a warning: the
  guide says a clean check prints nothing). Use four backticks (````markdown) when the example
  itself contains ``` fences.
  * A block starting with `---` is a whole lesson and is checked as it is.
  * Any other block is a snippet; it is checked inside a minimal front matter
    (id and titles only), so it must be valid lesson body text on its own.
- Section 6 (the worked example) is checked step by step: the `$ tutor new ...`
  command shown there must print the path shown and write exactly the first whole
  lesson of that section; the last whole lesson of that section must print, under
  `tutor run`, exactly the lines shown after the `$ tutor run` command; its hint
  about a large learning rate must come true under `tutor run --lr 0.3 --jsonl`.
- Every `$ tutor ...` line in a ```console block must be accepted by the real
  argument parser, and every relative link and #anchor must resolve.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tutor.cli import main, parse

DOC = Path(__file__).resolve().parents[1] / "docs" / "authoring.md"
TEXT = DOC.read_text(encoding="utf-8")
TOKENS = MarkdownIt("commonmark").parse(TEXT)

SNIPPET_FRONT_MATTER = "---\nid: snippet\ntitle:\n  en: Snippet\n  ko: 조각\n---\n\n"


@dataclass(frozen=True)
class Example:
    line: int  # 1-based line of the opening fence in docs/authoring.md
    text: str
    section: str  # the `## ` heading it appears under

    @property
    def whole(self) -> bool:
        return self.text.startswith("---\n")

    def lesson_text(self) -> str:
        return self.text if self.whole else SNIPPET_FRONT_MATTER + self.text


def _fences() -> list[tuple[str, int, str, str]]:
    """(info, line, content, current h2 heading) for every fence in the doc."""
    found, heading = [], ""
    for i, token in enumerate(TOKENS):
        if token.type == "heading_open" and token.tag == "h2":
            heading = TOKENS[i + 1].content
        elif token.type == "fence":
            found.append((token.info.strip(), token.map[0] + 1, token.content, heading))
    return found


EXAMPLES = [Example(line, content, heading) for info, line, content, heading in _fences() if info == "markdown"]
WORKED = [e for e in EXAMPLES if e.section.startswith("6.") and e.whole]
CONSOLE = [(line, content) for info, line, content, _ in _fences() if info == "console"]


@pytest.fixture
def tutor(monkeypatch, capsys):
    """Run the command line in-process: tutor(cwd, *argv) -> (code, stdout, stderr)."""

    def run(cwd: Path, *argv: str) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_the_doc_has_whole_lessons_snippets_and_the_worked_example():
    assert sum(e.whole for e in EXAMPLES) >= 3
    assert any(not e.whole for e in EXAMPLES)
    assert len(WORKED) == 2


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"line{e.line}")
def test_example_passes_check_run(tmp_path, tutor, example):
    path = tmp_path / "01-example.md"
    path.write_text(example.lesson_text(), encoding="utf-8")
    code, out, err = tutor(tmp_path, "check", "--run", str(path))
    assert code == 0, f"docs/authoring.md:{example.line}: example fails tutor check --run:\n{out}{err}"
    assert re.fullmatch(r"ok: 1 lesson, \d+ cells run, \d+ output blocks matched, [\d.]+ s\n", out) and err == "", \
        f"docs/authoring.md:{example.line}: examples must be clean, not even warnings:\n{out}{err}"


def console_commands() -> list[tuple[list[str], list[str]]]:
    """(argv after `tutor`, the output lines shown under it) for each `$ tutor` line."""
    commands = []
    for _, content in CONSOLE:
        lines = content.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("$ tutor"):
                argv = shlex.split(line[2:], comments=True)[1:]
                shown = []
                for following in lines[i + 1:]:
                    if following.startswith("$ "):
                        break
                    shown.append(following)
                commands.append((argv, shown))
    return commands


def test_every_command_shown_is_accepted_by_the_parser():
    commands = console_commands()
    assert len(commands) >= 8
    for argv, _ in commands:
        parse(argv)  # raises UsageError on an unknown option or subcommand


def test_commands_the_guide_must_teach_are_there():
    for needle in ("tutor check --run", "tutor run", "--jsonl", "--watch", "tutor new", "tutor import",
                   "::: hint", ":::: hint", "python norun", "```output", "1e-4", "param_groups"):
        assert needle in TEXT, needle


def _github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_resolve():
    anchors = {_github_anchor(TOKENS[i + 1].content) for i, t in enumerate(TOKENS) if t.type == "heading_open"}
    links = re.findall(r"\]\(([^)\s]+)\)", TEXT)
    assert "lesson-format.md" in links
    for link in links:
        if link.startswith("#"):
            assert link[1:] in anchors, link
        elif not re.match(r"[a-z]+://", link):
            assert (DOC.parent / link.split("#")[0]).is_file(), link


def test_worked_example_starts_with_what_tutor_new_writes(tmp_path, tutor):
    (argv, shown), = [(a, s) for a, s in console_commands() if a[:1] == ["new"] and "fit-a-line" in a]
    (tmp_path / "lessons").mkdir()
    code, out, err = tutor(tmp_path, *argv)
    assert (code, err) == (0, "")
    assert out.splitlines() == shown
    written = (tmp_path / shown[0]).read_text(encoding="utf-8")
    assert written == WORKED[0].text


def _worked_lesson(tmp_path: Path) -> Path:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    path = lessons / "01-fit-a-line.md"
    path.write_text(WORKED[-1].text, encoding="utf-8")
    return path


def test_worked_example_runs_as_shown(tmp_path, tutor):
    _worked_lesson(tmp_path)
    (argv, shown), = [(a, s) for a, s in console_commands() if a[:1] == ["run"] and "--jsonl" not in a]
    code, out, err = tutor(tmp_path, *argv)
    assert (code, err) == (0, "")
    assert out.splitlines() == shown


def test_worked_example_hint_about_a_large_learning_rate_comes_true(tmp_path, tutor):
    _worked_lesson(tmp_path)
    (argv, _), = [(a, s) for a, s in console_commands() if a[:1] == ["run"] and "--jsonl" in a]
    assert argv[argv.index("--lr") + 1] == "0.3" and "0.3" in WORKED[-1].text
    code, out, _ = tutor(tmp_path, *argv)
    iterations = [e for e in map(json.loads, out.splitlines()) if e["event"] == "iteration"]
    assert all(e["lr"] == pytest.approx(0.3) for e in iterations)
    first_bad = next(e["iteration"] for e in iterations if not math.isfinite(float(e["cost"])))
    assert first_bad < 60  # the hint says "within 60 iterations"


def test_forgotten_closing_fence_is_reported_at_its_opening(tmp_path, tutor):
    """The guide says check names the file and the opening line and exits 1."""
    path = _worked_lesson(tmp_path)
    lines = WORKED[-1].text.splitlines()
    opening = max(i for i, line in enumerate(lines) if line.startswith("```python norun"))
    closing = next(i for i in range(opening + 1, len(lines)) if lines[i] == "```")
    path.write_text("\n".join(lines[:closing] + lines[closing + 1:]) + "\n", encoding="utf-8")
    code, out, err = tutor(tmp_path, "check", str(path))
    assert code == 1
    assert f"{path}:{opening + 1}:" in out + err


def test_import_example_prints_what_is_shown(tmp_path, tutor):
    """Section 7's example: a Korean notebook, a lesson directory holding 01."""
    from nbformat import v4, write

    (argv, shown), = [(a, s) for a, s in console_commands() if a[:1] == ["import"]]
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (tmp_path / "lessons" / "01-fit-a-line.md").write_text(WORKED[-1].text, encoding="utf-8")
    write(v4.new_notebook(cells=[
        v4.new_markdown_cell("# 경사 하강법\n\n비용을 줄이는 방향으로 W를 옮깁니다."),
        v4.new_code_cell("import torch\nprint(torch.zeros(1).item())",
                         outputs=[v4.new_output("stream", name="stdout", text="0.0\n")]),
    ]), tmp_path / argv[1])
    code, out, err = tutor(tmp_path, *argv)
    assert code == 0
    assert (out + err).splitlines() == shown
    assert tutor(tmp_path, "check", "--run", shown[0])[0] == 0
