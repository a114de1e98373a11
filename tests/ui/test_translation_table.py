"""One translation table: tutor/ui/i18n.py holds every word the app says in both
languages, and no other module of the package holds a ko/en table of its own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import tutor
from tutor.ui.i18n import STRINGS

PACKAGE = Path(tutor.__file__).parent
TABLE = PACKAGE / "ui" / "i18n.py"
HANGUL = re.compile("[\uac00-\ud7a3]")
# Hangul that is lesson syntax or lesson content, not app wording: the loader's and the
# notebook importer's English messages quote the title form `English | 한국어`, and
# `tutor new` writes a lesson skeleton (a lesson's words live in the lesson file).
LESSON_TEXT = {"engine/loader.py", "engine/notebook.py", "commands/new.py"}
PLACEHOLDER = re.compile(r"{(\w*)")


def test_every_key_has_both_languages():
    for key, pair in STRINGS.items():
        assert isinstance(pair, tuple) and len(pair) == 2, key
        en, ko = pair
        assert en.strip() and ko.strip(), key
        # both say the same numbers: the same {placeholders}
        assert set(PLACEHOLDER.findall(en)) == set(PLACEHOLDER.findall(ko)), key


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _is_translation(node: ast.AST) -> bool:
    """A literal string in Korean, or a dict holding one: a translation."""
    if isinstance(node, ast.Dict):
        return True
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(HANGUL.search(node.value))


def problems_in(source: str, name: str) -> list[str]:
    """Where `source` holds translations: a dict keyed "ko"/"en" with Korean strings
    or per-language tables as values, `Text(ko="...")` with a literal, or a Korean
    string literal at all (docstrings and comments aside)."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value in ("ko", "en") and _is_translation(value):
                    found.append(f"{name}:{node.lineno}: a ko/en table")
                    break
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "ko" and _is_translation(kw.value):
                    found.append(f"{name}:{node.lineno}: ko= text built in code")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
              and HANGUL.search(node.value) and name not in LESSON_TEXT):
            found.append(f"{name}:{node.lineno}: Korean text outside tutor/ui/i18n.py")
    return found


def test_no_other_module_holds_translations():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != TABLE:
            found += problems_in(path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).as_posix())
    assert found == []


def test_the_check_finds_each_kind_of_table():
    table = 'STRINGS = {"en": {"title": "Edit"}, "ko": {"title": "고치기"}}\n'
    text = 'HINT = Text(en="Try a smaller one.", ko="더 작은 값으로 해 보세요.")\n'
    loose = 'def f():\n    """문서."""\n    return "한국어"\n'
    assert problems_in(table, "a.py") == ["a.py:1: a ko/en table", "a.py:1: Korean text outside tutor/ui/i18n.py"]
    assert "b.py:1: ko= text built in code" in problems_in(text, "b.py")
    assert problems_in(loose, "c.py") == ["c.py:3: Korean text outside tutor/ui/i18n.py"]
    # data that carries a lesson's own titles per language is not a translation table
    assert problems_in('row = {"en": place.title_en, "ko": place.title_ko}\n', "d.py") == []
    assert problems_in('NAMES = {"en": "English", "ko": "Korean"}\n', "e.py") == []
