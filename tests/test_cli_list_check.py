"""`tutor list` and `tutor check` from the command line: output, exit codes, errors."""

from __future__ import annotations

import json

import pytest

from tutor.cli import main

BROKEN = (
    "---\nid: broken\ntitle: {en: Broken, ko: 고장}\n---\n"  # 1-4
    "\n"  # 5
    "## Start | 시작\n"  # 6
    "\n"  # 7
    "```python\n"  # 8  never closed
    "x = 1\n"  # 9
    "\n"  # 10
    "Some prose.\n"  # 11
)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- tutor check ---------------------------------------------------------------------


def test_check_unclosed_fence_prints_its_opening_line_and_exits_1(tutor_cli, write_lesson):
    path = write_lesson(BROKEN, name="01-broken.md")
    code, out, err = tutor_cli("check", str(path))
    assert code == 1 and err == ""
    assert out.splitlines() == [f"{path}:8: code fence '```python' is not closed (no closing '```' line)"]


def test_check_names_a_wrong_language_code_and_an_unclosed_block_at_its_line(tutor_cli, write_lesson):
    path = write_lesson(
        "---\nid: kr\ntitle: {en: K, ko: 케}\n---\n"  # 1-4
        "::: en\nHello.\n:::\n"  # 5-7
        "::: kr\n안녕.\n:::\n"  # 8-10: a wrong language code
        "::: ko\n안녕.\n\n"  # 11-13: never closed
        "## Next | 다음\n"  # 14
        "::: en\nMore.\n:::\n",  # 15-17
        name="01-kr.md")
    code, out, err = tutor_cli("check", str(path))
    assert code == 1 and err == ""
    assert out.splitlines() == [
        f"{path}:8: unknown language block 'kr' (known: ko, en; did you mean ko?)",
        f"{path}:11: '::: ko' block is not closed before '::: en' at line 15 "
        "(add a ':::' line before it)",
        f"{path}:14: warning: '##' heading inside a '::: ko' block is prose, not a section",
    ]


def test_check_clean_lesson_prints_nothing_and_exits_0(capsys, write_lesson, sample_lesson_text):
    path = write_lesson(sample_lesson_text)
    assert run(capsys, "check", str(path)) == (0, "", "")


def test_check_directory_reports_every_file_and_duplicate_ids(capsys, write_lesson, sample_lesson_text, tmp_path):
    write_lesson(sample_lesson_text, name="01-a.md")
    dup = write_lesson(sample_lesson_text, name="02-b.md")
    broken = write_lesson(BROKEN, name="03-c.md")
    code, out, _ = run(capsys, "check", str(tmp_path / "lessons"))
    assert code == 1
    assert [line.split(": ")[0] for line in out.splitlines()] == [f"{dup}:2", f"{broken}:8"]
    assert "duplicate id 'sample'" in out


def test_check_a_file_named_twice_once(capsys, write_lesson, sample_lesson_text, tmp_path):
    path = write_lesson(sample_lesson_text)
    assert run(capsys, "check", str(tmp_path / "lessons"), str(path)) == (0, "", "")


def test_check_warnings_alone_exit_0(capsys, write_lesson):
    path = write_lesson("---\nid: w\ntitle: {en: W, ko: 더}\nauthor: me\n---\n")
    code, out, _ = run(capsys, "check", str(path))
    assert code == 0 and out == f"{path}:4: warning: unknown front matter key 'author' " \
        "(known: id, title, summary, cost, lr, seed, landscape)\n"


def test_check_bundled_lessons_have_no_errors(capsys):
    from tutor.engine.loader import bundled_lessons_dir

    code, out, _ = run(capsys, "check", str(bundled_lessons_dir()))
    assert code == 0, out
    assert all(": warning: " in line for line in out.splitlines())


@pytest.mark.parametrize(
    "argv,words",
    [
        (["check"], "the following arguments are required: PATH"),
        (["check", "/no/such/place.md"], "no such file or directory: /no/such/place.md"),
        (["list", "--lang", "fr"], "invalid choice: 'fr'"),
        (["list", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_usage_is_one_line_exit_2(tutor_cli, argv, words):
    code, out, err = tutor_cli(*argv)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("tutor: error: ") and words in err
    assert "Traceback" not in err


def test_check_empty_directory_is_bad_input(capsys, tmp_path):
    code, out, err = run(capsys, "check", str(tmp_path))
    assert code == 2 and out == "" and err == f"tutor: error: no lesson files (*.md) in {tmp_path}\n"


# --- tutor list ----------------------------------------------------------------------


def test_list_json(tutor_cli, write_lesson, sample_lesson_text, tmp_path):
    first = write_lesson(sample_lesson_text.replace("id: sample", "id: zeta"), name="01-z.md")
    second = write_lesson(sample_lesson_text, name="02-s.md")
    code, out, err = tutor_cli("list", "--json", "--lessons", str(tmp_path / "lessons"))
    assert code == 0 and err == ""
    assert json.loads(out) == [
        {"id": "zeta", "title": {"en": "A sample lesson", "ko": "예제 레슨"}, "path": str(first)},
        {"id": "sample", "title": {"en": "A sample lesson", "ko": "예제 레슨"}, "path": str(second)},
    ]


@pytest.mark.parametrize("lang,title", [("en", "A sample lesson"), ("ko", "예제 레슨")])
def test_list_plain_in_each_language(capsys, write_lesson, sample_lesson_text, tmp_path, lang, title):
    write_lesson(sample_lesson_text.replace("id: sample", "id: a-longer-id"), name="01-a.md")
    write_lesson(sample_lesson_text, name="02-b.md")
    code, out, _ = run(capsys, "list", "--lessons", str(tmp_path / "lessons"), "--lang", lang)
    assert code == 0
    assert out.splitlines() == [f"a-longer-id  {title}", f"sample       {title}"]


def test_list_reports_invalid_files_and_lists_the_rest(capsys, write_lesson, sample_lesson_text, tmp_path):
    write_lesson(sample_lesson_text, name="01-ok.md")
    broken = write_lesson(BROKEN, name="02-broken.md")
    code, out, err = run(capsys, "list", "--lessons", str(tmp_path / "lessons"), "--json")
    assert code == 0
    assert [row["id"] for row in json.loads(out)] == ["sample"]
    assert err.startswith(f"{broken}:8: ")


def test_list_bundled_lessons_by_default(capsys):
    from tutor.engine.loader import bundled_lessons_dir, lesson_files

    code, out, err = run(capsys, "list", "--json")
    assert code == 0 and err == ""
    assert [row["path"] for row in json.loads(out)] == [str(p) for p in lesson_files(bundled_lessons_dir())]


@pytest.mark.parametrize("make_dir", [False, True])
def test_list_missing_or_empty_directory_exits_2(tutor_cli, tmp_path, make_dir):
    target = tmp_path / "course"
    if make_dir:
        target.mkdir()
    code, out, err = tutor_cli("list", "--lessons", str(target))
    expected = f"no lesson files (*.md) in {target}" if make_dir else f"lesson directory not found: {target}"
    assert (code, out, err) == (2, "", f"tutor: error: {expected}\n")


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`tutor list | head -1` on a long listing: no BrokenPipeError traceback."""
    import subprocess
    import sys

    for i in range(400):
        (tmp_path / f"{i:03d}-l{i}.md").write_text(
            f"---\nid: l{i}\ntitle: {{en: Lesson {i} {'x' * 400}, ko: 수업 {i}}}\n---\nText.\n",
            encoding="utf-8",
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tutor", "list", "--lessons", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=30)
    assert "Traceback" not in stderr
    assert proc.returncode in (0, 141)
