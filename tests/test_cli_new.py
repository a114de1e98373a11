"""`tutor new`: where the skeleton goes, its number, refusals, and that it is a
real lesson (valid, its output block reproduced, its loop steppable with lr and
cost) checked by the loader, `tutor check --run` and plain torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tutor.cli import UsageError, main
from tutor.commands.new import skeleton, write_new_file
from tutor.engine.loader import load_lesson


@pytest.fixture
def tutor(monkeypatch, capsys):
    """Run the command line in-process: tutor(cwd, *argv) -> (code, stdout, stderr)."""

    def run(cwd: Path, *argv: str) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def lesson_file(directory: Path, name: str, lesson_id: str) -> Path:
    path = directory / name
    path.write_text(f"---\nid: {lesson_id}\ntitle:\n  en: T\n  ko: T\n---\n\nText.\n", encoding="utf-8")
    return path


def test_writes_into_dot_lessons_with_next_number(tmp_path, tutor):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    lesson_file(lessons, "03-a.md", "a")
    lesson_file(lessons, "07-b.md", "b")
    (lessons / "notes.md").write_text("no number, no front matter\n", encoding="utf-8")

    code, out, err = tutor(tmp_path, "new", "my-lesson")

    assert (code, err) == (0, "")
    assert out == f"{Path('lessons') / '08-my-lesson.md'}\n"
    lesson = load_lesson(lessons / "08-my-lesson.md")
    assert lesson.id == "my-lesson"
    assert (lesson.title.en, lesson.title.ko) == ("My lesson", "My lesson")


def test_first_lesson_is_01_and_passes_check_run(tmp_path, tutor):
    (tmp_path / "lessons").mkdir()
    assert tutor(tmp_path, "new", "intro")[0] == 0
    path = tmp_path / "lessons" / "01-intro.md"
    assert path.is_file()

    code, out, err = tutor(tmp_path, "check", "--run", str(path))
    assert code == 0, out + err


def test_lessons_option_wins_and_is_created(tmp_path, tutor):
    (tmp_path / "lessons").mkdir()
    target = tmp_path / "course" / "lessons"
    code, out, _ = tutor(tmp_path, "new", "x", "--lessons", str(target))
    assert code == 0
    assert out.strip() == str(target / "01-x.md")
    assert list((tmp_path / "lessons").iterdir()) == []


def test_without_a_lesson_directory_asks_for_lessons(tmp_path, tutor):
    code, out, err = tutor(tmp_path, "new", "x")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--lessons" in err
    assert list(tmp_path.iterdir()) == []


def test_lessons_option_that_is_a_file_is_refused(tmp_path, tutor):
    (tmp_path / "f").write_text("", encoding="utf-8")
    code, _, err = tutor(tmp_path, "new", "x", "--lessons", str(tmp_path / "f"))
    assert code == 2 and "not a directory" in err


def test_refuses_an_id_in_use_even_under_another_file_name(tmp_path, tutor):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    existing = lesson_file(lessons, "01-intro.md", "gd")
    before = existing.read_text(encoding="utf-8")

    code, out, err = tutor(tmp_path, "new", "gd")

    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "'gd'" in err and "01-intro.md" in err
    assert sorted(p.name for p in lessons.iterdir()) == ["01-intro.md"]
    assert existing.read_text(encoding="utf-8") == before


def test_broken_lessons_do_not_block_a_new_one(tmp_path, tutor):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "01-broken.md").write_text("---\nid: [unclosed\n", encoding="utf-8")
    (lessons / "02-binary.md").write_bytes(b"\xff\xfe\x00")
    assert tutor(tmp_path, "new", "fine") == (0, f"{Path('lessons') / '03-fine.md'}\n", "")


@pytest.mark.parametrize("slug", ["Bad", "a_b", "über", "a b", "a/b", "a.md"])
def test_invalid_slug(tmp_path, tutor, slug):
    (tmp_path / "lessons").mkdir()
    code, _, err = tutor(tmp_path, "new", slug)
    assert code == 2 and "a-z, 0-9" in err and err.count("\n") == 1
    assert list((tmp_path / "lessons").iterdir()) == []


def test_titles_round_trip_through_the_loader(tmp_path, tutor):
    (tmp_path / "lessons").mkdir()
    code, _, _ = tutor(tmp_path, "new", "t", "--title-en", "Cost: why? #1", "--title-ko", "yes")
    assert code == 0
    lesson = load_lesson(tmp_path / "lessons" / "01-t.md")
    assert (lesson.title.en, lesson.title.ko) == ("Cost: why? #1", "yes")


def test_only_a_korean_title_keeps_the_slug_as_english_title(tmp_path, tutor):
    (tmp_path / "lessons").mkdir()
    assert tutor(tmp_path, "new", "first-steps", "--title-ko", "첫 걸음")[0] == 0
    lesson = load_lesson(tmp_path / "lessons" / "01-first-steps.md")
    assert (lesson.title.en, lesson.title.ko) == ("First steps", "첫 걸음")


def test_write_new_file_never_replaces(tmp_path):
    path = tmp_path / "01-a.md"
    path.write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError, match="already exists"):
        write_new_file(path, "other")
    assert path.read_text(encoding="utf-8") == "mine"


def test_skeleton_shape(tmp_path):
    """Bilingual intro, one section, one steppable loop using lr and cost, a hint."""
    path = tmp_path / "01-s.md"
    path.write_text(skeleton("s", "S", "에스"), encoding="utf-8")
    lesson = load_lesson(path)
    assert len(lesson.sections) == 2
    intro, section = lesson.sections
    assert intro.prose.en and intro.prose.ko and intro.prose.en != intro.prose.ko
    assert (section.title.en, section.title.ko) == ("Training loop", "학습 루프")
    assert len(section.hints) == 1 and section.hints[0].en != section.hints[0].ko
    (cell,) = lesson.cells
    assert cell.expected is not None and not cell.norun
    assert "\nfor " in cell.source and "\nlr = " in cell.source and "cost = " in cell.source


def plain_torch_costs(lr: float) -> list[float]:
    """The skeleton's loop written out in plain torch."""
    x = torch.tensor([[1.0], [2.0], [3.0]])
    y = torch.tensor([[2.0], [4.0], [6.0]])
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    costs = []
    for _ in range(6):
        cost = torch.mean((x * w - y) ** 2)
        opt.zero_grad()
        cost.backward()
        opt.step()
        costs.append(cost.item())
    return costs


def test_skeleton_loop_follows_the_learners_lr(tmp_path, tutor):
    (tmp_path / "lessons").mkdir()
    tutor(tmp_path, "new", "s")
    path = str(tmp_path / "lessons" / "01-s.md")

    code, out, _ = tutor(tmp_path, "run", path, "--lr", "0.01", "--jsonl")
    assert code == 0
    iterations = [e for e in map(json.loads, out.splitlines()) if e["event"] == "iteration"]
    assert [e["iteration"] for e in iterations] == list(range(6))
    assert all(e["lr"] == pytest.approx(0.01) for e in iterations)
    assert [e["cost"] for e in iterations] == pytest.approx(plain_torch_costs(0.01), rel=1e-6)
    # and without the override the lesson's own lr (0.05) is in force
    code, out, _ = tutor(tmp_path, "run", path, "--jsonl")
    costs = [e["cost"] for e in map(json.loads, out.splitlines()) if e["event"] == "iteration"]
    assert costs == pytest.approx(plain_torch_costs(0.05), rel=1e-6)
    assert costs != pytest.approx(plain_torch_costs(0.01), rel=1e-3)


def test_real_command_line(tmp_path):
    """The installed entry point, end to end: prints the path, exit 0."""
    result = subprocess.run(
        [sys.executable, "-m", "tutor", "new", "demo", "--lessons", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{tmp_path / '01-demo.md'}\n"
    again = subprocess.run(
        [sys.executable, "-m", "tutor", "new", "demo", "--lessons", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert again.returncode == 2 and again.stderr.startswith("tutor: error: ")
    assert again.stderr.count("\n") == 1
