"""The parsed lessons kept between starts (engine/lesson_index.py): the same result as
parsing, parsed again whenever a lesson file or the engine changed or the cache is
damaged, and the app's first frame without the parser when it is warm."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tutor.engine import lesson_index
from tutor.engine.lesson_index import cache_path, discover_cached
from tutor.engine.loader import discover

ROOT = Path(__file__).resolve().parents[2]


def _lessons(write_lesson, sample_lesson_text) -> Path:
    write_lesson(sample_lesson_text, name="01-first.md")
    write_lesson(sample_lesson_text.replace("id: sample", "id: second"), name="02-second.md")
    write_lesson("---\nid: bad\n", name="03-bad.md")
    return write_lesson(sample_lesson_text, name="01-first.md").parent


def _parses(monkeypatch) -> list[Path]:
    """Count the directories `discover` is asked to parse."""
    import tutor.engine.loader as loader

    calls: list[Path] = []
    real = loader.discover

    def counting(lessons_dir):
        calls.append(Path(lessons_dir))
        return real(lessons_dir)

    monkeypatch.setattr(loader, "discover", counting)
    return calls


def test_a_warm_cache_gives_what_parsing_gives_without_parsing(write_lesson, sample_lesson_text, tmp_path, monkeypatch):
    lessons_dir = _lessons(write_lesson, sample_lesson_text)
    cache = tmp_path / "cache"
    parses = _parses(monkeypatch)
    first = discover_cached(lessons_dir, cache)
    second = discover_cached(lessons_dir, cache)
    assert len(parses) == 1  # the second came from the cache
    expected = discover(lessons_dir)
    for got in (first, second):
        assert got[0] == expected[0]  # the lessons, cell by cell
        assert [(str(e), e.path, e.line) for e in got[1]] == [(str(e), e.path, e.line) for e in expected[1]]
    mode = stat.S_IMODE(os.stat(cache_path(lessons_dir, cache)).st_mode)
    assert mode == 0o600


def test_a_changed_added_or_removed_file_is_parsed_again(write_lesson, sample_lesson_text, tmp_path, monkeypatch):
    lessons_dir = _lessons(write_lesson, sample_lesson_text)
    cache = tmp_path / "cache"
    discover_cached(lessons_dir, cache)
    parses = _parses(monkeypatch)
    write_lesson(sample_lesson_text.replace("id: sample", "id: renamed"), name="01-first.md")  # another size
    assert [lesson.id for lesson in discover_cached(lessons_dir, cache)[0]] == ["renamed", "second"]
    first = lessons_dir / "01-first.md"
    text = first.read_text(encoding="utf-8")
    first.write_text(text.replace("renamed", "renamee"), encoding="utf-8")  # same size, newer
    os.utime(first, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns + 10**9))
    assert [lesson.id for lesson in discover_cached(lessons_dir, cache)[0]] == ["renamee", "second"]
    (lessons_dir / "02-second.md").unlink()
    assert [lesson.id for lesson in discover_cached(lessons_dir, cache)[0]] == ["renamee"]
    write_lesson(sample_lesson_text.replace("id: sample", "id: third"), name="04-third.md")
    assert [lesson.id for lesson in discover_cached(lessons_dir, cache)[0]] == ["renamee", "third"]
    assert len(parses) == 4


def test_an_engine_change_or_a_damaged_cache_is_parsed_again(write_lesson, sample_lesson_text, tmp_path, monkeypatch):
    lessons_dir = _lessons(write_lesson, sample_lesson_text)
    cache = tmp_path / "cache"
    discover_cached(lessons_dir, cache)
    parses = _parses(monkeypatch)
    monkeypatch.setattr(lesson_index, "_engine_signature", lambda: (("loader.py", 1, 2),))  # an upgrade
    assert len(discover_cached(lessons_dir, cache)[0]) == 2
    for damage in (b"", b"not a pickle", b"\x80\x05K\x01."):  # empty, garbage, another shape
        cache_path(lessons_dir, cache).write_bytes(damage)
        assert len(discover_cached(lessons_dir, cache)[0]) == 2
    assert len(parses) == 4
    assert len(discover_cached(lessons_dir, cache)[0]) == 2  # rewritten: warm again
    assert len(parses) == 4


def test_no_cache_where_it_cannot_be_written(write_lesson, sample_lesson_text, tmp_path):
    lessons_dir = _lessons(write_lesson, sample_lesson_text)
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache directory would be")
    lessons, errors = discover_cached(lessons_dir, blocked / "tutor")
    assert [lesson.id for lesson in lessons] == ["sample", "second"] and len(errors) == 1


# Not needed for the picker's first frame: the parsers (the cache has the lessons), and
# the run state's types with the kernels' client (13 ms of dataclasses, imported with
# the first lesson opened; the zygote's host alone starts before the first frame).
LATER = ("yaml", "markdown_it", "tutor.engine.loader", "tutor.engine.state", "tutor.session",
         "tutor.engine.kernel.client")
FIRST_FRAME = f"MODULES = {LATER!r}\n" + """
import argparse, json, sys
from pathlib import Path
from tutor.commands.app import build_app

args = argparse.Namespace(lessons=sys.argv[1], lang="en", lesson=None, watch=False)
app = None

def first_frame():
    print(json.dumps({name: name in sys.modules for name in MODULES}))
    app.exit()

app = build_app(args, progress_path=Path(sys.argv[2]) / "progress.json", on_first_frame=first_frame,
                lesson_cache=Path(sys.argv[2]) / "cache")
app.run(headless=True, size=(80, 24))
"""


def test_the_first_frame_with_a_warm_cache_imports_no_parser(tmp_path):
    """The bundled lessons, as `tutor` lists them: the second start reads them from the
    cache (markdown-it, PyYAML and the loader stay unimported until a lesson needs them,
    and so do the run state's types until a lesson opens)."""
    from tutor.engine.lesson_index import bundled_lessons_dir

    def start() -> dict:
        out = subprocess.run([sys.executable, "-c", FIRST_FRAME, str(bundled_lessons_dir()), str(tmp_path)],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    assert start()["tutor.engine.loader"] is True  # cold: parsed
    assert start() == dict.fromkeys(LATER, False)
