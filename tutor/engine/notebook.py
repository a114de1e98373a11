"""Jupyter notebook → lesson Markdown text (what `tutor import` writes).

A notebook is close to a lesson already: markdown cells are the prose, code cells
are the cells, and their saved outputs are what the lesson's ```output blocks
should hold. This module does the conversion as a pure function over an nbformat
v4 notebook (a dict-like `NotebookNode` or a plain dict), so it can be tested
without files, and it never imports torch or Textual.

What cannot be carried over faithfully is kept visible to the author instead of
silently lost: IPython magics are commented out, cells that are not valid Python
become ```python norun, dropped outputs (images, HTML, stderr, tracebacks) leave an
HTML comment (invisible in the app), and every such change is also listed in
`Conversion.notes` for `tutor import` to print.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from tutor.engine.lesson import LANGS
from tutor.engine.loader import CELL_LIKE_FENCE

# Cell magics whose body is still Python: the magic line is commented out and the
# body kept. Any other `%%magic` (bash, html, writefile, ...) makes the cell norun.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})

_LINE_MAGIC = re.compile(r"^\s*(%{1,2}[A-Za-z_]|![^=])")
_CELL_MAGIC = re.compile(r"^%%([A-Za-z_][\w-]*)")
_LANG_FENCE = re.compile(r"^(\s*)(:{3,})")
_CODE_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)(.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NOTE_PREFIX = "tutor import:"


@dataclass(frozen=True)
class Conversion:
    """The lesson text and the list of things the author should look at."""

    text: str
    title: str
    notes: tuple[str, ...] = ()


def yaml_scalar(value: str) -> str:
    """`value` as a YAML scalar: plain when that reads back unchanged, else quoted.

    Titles like `Cost: why?` or `yes` would otherwise come back as a mapping
    or a boolean.
    """
    try:
        plain_ok = "\n" not in value and value == value.strip() and yaml.safe_load(value) == value
    except yaml.YAMLError:
        plain_ok = False
    return value if plain_ok and value else json.dumps(value, ensure_ascii=False)


def fence_for(text: str, char: str = "`") -> str:
    """A fence longer than any fence-like run at a line start of `text` (min 3)."""
    longest = 0
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        run = len(stripped) - len(stripped.lstrip(char))
        longest = max(longest, run)
    return char * max(3, longest + 1)


def notebook_to_lesson(
    nb: Mapping[str, Any], lesson_id: str, lang: str, source_name: str = "the notebook"
) -> Conversion:
    """Convert notebook `nb` into the text of a lesson with id `lesson_id`.

    `lang` ("ko" or "en") is the language the notebook is written in: its prose
    goes into `::: lang` blocks and its first `#` heading becomes that language's
    title (the other language gets the same title plus a comment asking for a
    translation). Later `#` and `##` headings become sections.
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    builder = _LessonBuilder(lang)
    for number, cell in enumerate(nb.get("cells", []), start=1):
        kind = cell.get("cell_type")
        source = _join(cell.get("source", ""))
        if kind == "markdown":
            builder.markdown(source, guess_language([source]))
        elif kind == "code":
            builder.code(number, source, cell.get("outputs", []))
        elif source.strip():
            builder.comment(f"a {kind} cell was dropped (notebook cell {number})", note=True)
    body = builder.finish()
    title = builder.title or lesson_id.replace("-", " ").capitalize()
    early_notes = []
    if builder.title is None:
        early_notes.append(f"the notebook has no # title: the title {title!r} was made from the file name")
    other = "en" if lang == "ko" else "ko"
    titles = {lang: title, other: title}
    front = [
        "---",
        f"id: {lesson_id}",
        "title:",
        *(
            f"  {code}: {yaml_scalar(titles[code])}"
            + (f"  # TODO: translate into {_LANG_NAMES[code]}" if code == other else "")
            for code in ("en", "ko")
        ),
        "---",
        "",
        f"<!-- {_NOTE_PREFIX} converted from {source_name}. The prose is in {_LANG_NAMES[lang]} only:",
        f"     add ::: {other} blocks beside the ::: {lang} ones and write headings as",
        "     `## English title | 한국어 제목`. Then run `tutor check --run` on this file. -->",
        "",
        "",
    ]
    notes = list(early_notes)
    if len(builder.langs_used) > 1:
        notes.append("the prose is in both languages (detected cell by cell, each in its ::: block): "
                     "check that each block is in the right language, and translate the title")
    else:
        notes.append(f"the prose is in {_LANG_NAMES[lang]} only; translate the title and add ::: {other} blocks")
    notes += code_notes(list(nb.get("cells", [])))
    guessed = guess_language(_join(c.get("source", "")) for c in nb.get("cells", []) if c.get("cell_type") == "markdown")
    if guessed and guessed != lang:
        notes.insert(0, f"the prose looks {_LANG_NAMES[guessed]}, not {_LANG_NAMES[lang]}: "
                        f"if so, import again with --lang {guessed}")
    notes += builder.notes
    return Conversion(text="\n".join(front) + body, title=title, notes=tuple(notes))


_LANG_NAMES = {"en": "English", "ko": "Korean"}


def guess_language(texts: Iterable[str]) -> str | None:
    """"ko" when at least a fifth of the letters are Hangul, "en" when there are
    Latin letters and no Hangul at all, None without prose. Only used to warn:
    `--lang` defaults to the teacher's locale, not to the notebook's language."""
    hangul = latin = 0
    for text in texts:
        hangul += sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e")
        latin += sum(1 for ch in text if ch.isascii() and ch.isalpha())
    if hangul and hangul * 4 >= latin:
        return "ko"
    if latin and not hangul:
        return "en"
    return None


_TAG = re.compile(r"<[^>]+>")
_BOLD = re.compile(r"</?(b|strong)\s*>", re.I)
_ITALIC = re.compile(r"</?(i|em)\s*>", re.I)
_BREAK = re.compile(r"<br\s*/?>", re.I)


def html_text(block: str) -> str:
    """An HTML block (a notebook's `<div class="alert ...">` box) as Markdown text:
    tags dropped, bold and italics kept, entities decoded, an alert as a quote.
    No more lines than the block had."""
    import html

    alert = re.search(r"class\s*=\s*[\"'][^\"']*alert", block) is not None
    text = _BREAK.sub(" ", block)
    text = _ITALIC.sub("*", _BOLD.sub("**", text))
    lines = [html.unescape(_TAG.sub("", line)).strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    return "\n".join(("> " + line) if alert else line for line in lines)


# Calls whose string arguments name files the code reads.
_READERS = {"open", "loadtxt", "genfromtxt", "load", "read_csv", "read_table", "read_excel", "read_json",
            "fromfile", "imread", "ImageFolder", "read_text", "read_bytes"}
_DATA_SUFFIX = re.compile(r"\.(csv|tsv|txt|dat|json|npy|npz|pt|pth|pkl|pickle|xlsx?|png|jpe?g|gif|h5)$", re.I)


def data_files(code: str) -> list[str]:
    """File names a cell reads: string literals with a data file's suffix passed to
    open(), np.loadtxt(), pd.read_csv(), torch.load(), ... (relative ones only)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name not in _READERS:
            continue
        for arg in [*node.args[:1], *(k.value for k in node.keywords if k.arg in ("file", "fname", "filepath_or_buffer", "f", "root"))]:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and not arg.value.startswith("/"):
                if _DATA_SUFFIX.search(arg.value) or name == "ImageFolder":
                    _add_once(found, arg.value)
    return found


def imported_modules(code: str) -> list[str]:
    """Top-level names of the modules a cell imports (`torchvision` for
    `from torchvision import datasets`)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                _add_once(names, alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            _add_once(names, node.module.split(".")[0])
    return names


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def code_notes(cells: list[Mapping[str, Any]]) -> list[str]:
    """What the teacher should look at in the code: cells run out of order, data
    files read, imports not installed here."""
    notes: list[str] = []
    counts = [(n, c.get("execution_count")) for n, c in enumerate(cells, start=1)
              if c.get("cell_type") == "code" and c.get("execution_count") is not None]
    numbers = [count for _, count in counts]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        shown = ", ".join(f"cell {n}: [{count}]" for n, count in counts[:8])
        notes.append(f"the notebook's cells were run out of order ({shown}{', ...' if len(counts) > 8 else ''}): "
                     "its saved outputs may differ from a run from top to bottom; check them with tutor check --run")
    missing: dict[str, int] = {}
    for number, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        code, _, _ = convert_code(_join(cell.get("source", "")))
        for name in data_files(code):
            notes.append(f"notebook cell {number} reads {name!r}: put it next to the lesson file "
                         "(lesson code runs in the lesson's directory)")
        for module in imported_modules(code):
            if module not in missing and not _installed(module):
                missing[module] = number
    for module, number in missing.items():
        notes.append(f"notebook cell {number} imports {module}, which is not installed here "
                     f"(pip install {module}): the lesson stops at that import")
    return notes


def _join(value: str | Iterable[str]) -> str:
    """nbformat keeps multi-line strings either joined or as a list of lines."""
    return value if isinstance(value, str) else "".join(value)


class _LessonBuilder:
    """Accumulates lesson blocks; prose is buffered so that consecutive markdown
    cells share one language block and headings always sit outside blocks."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.blocks: list[str] = []
        self.prose: list[str] = []
        self.notes: list[str] = []
        self.title: str | None = None
        # `$$ … $$` over several lines is one math block: a lone `=` line in it must
        # not make the line before a heading (it did: `## $$`, and the `=` was lost).
        self._md = MarkdownIt("commonmark").use(dollarmath_plugin)
        self.langs_used: list[str] = []

    # markdown ---------------------------------------------------------------
    def markdown(self, source: str, lang: str | None = None) -> None:
        """One markdown cell; `lang`: its language (detected per cell), default the
        notebook's."""
        self.cell_lang = lang or self.lang
        lines = source.splitlines()
        cursor = 0
        tokens = self._md.parse(source)
        for token in tokens:  # HTML blocks (alert divs) become their text, line for line
            if token.type == "html_block" and token.level == 0 and token.map:
                start, end = token.map
                new = html_text(token.content).split("\n")
                lines[start:end] = (new + [""] * (end - start))[: end - start]
                _add_once(self.notes, "HTML blocks in the prose (alert boxes) became plain text")
        for token_index, token in enumerate(tokens):
            if token.type != "heading_open" or token.level != 0 or token.tag not in ("h1", "h2"):
                continue
            start, end = token.map
            self._add_prose(lines[cursor:start])
            cursor = end
            text = tokens[token_index + 1].content.strip()
            if token.tag == "h1" and self.title is None:
                self.title = text
            elif text:
                self._heading(text)
        self._add_prose(lines[cursor:])

    def _heading(self, text: str) -> None:
        self._flush_prose()
        if " | " in text:
            # ` | ` separates the English and Korean titles of a section.
            text = text.replace(" | ", " / ")
            self.notes.append(f"heading {text!r}: ' | ' became ' / ' (it separates the two languages)")
        self.blocks.append(f"## {text}")

    def _add_prose(self, lines: list[str]) -> None:
        text = "\n".join(self._prose_line(line) for line in lines).strip("\n")
        if text.strip():
            self.prose.append((getattr(self, "cell_lang", self.lang), text))

    def _prose_line(self, line: str) -> str:
        # A `:::` line would open or close a language block; a ```python or
        # ```output fence in prose would become a lesson cell or output block.
        if match := _LANG_FENCE.match(line):
            return f"{match.group(1)}\\{line[match.end(1):]}"
        # `python3`, `Python`, `Output`... too: the checker warns about those (they stay prose).
        if (match := _CODE_FENCE.match(line)) and CELL_LIKE_FENCE.fullmatch(match.group(2)):
            return line.replace(match.group(1) + match.group(2), match.group(1) + "py", 1)
        return line

    def _flush_prose(self) -> None:
        """Consecutive prose of one language is one `::: lang` block."""
        group: list[str] = []
        current = None
        for lang, text in self.prose + [(None, "")]:
            if lang != current and group:
                self.blocks.append(f"::: {current}\n" + "\n\n".join(group) + "\n:::")
                if current not in self.langs_used:
                    self.langs_used.append(current)
                group = []
            current = lang
            if lang is not None:
                group.append(text)
        self.prose = []

    # code -------------------------------------------------------------------
    def code(self, number: int, source: str, outputs: list[Mapping[str, Any]]) -> None:
        source = source.rstrip()
        if not source.strip():
            return
        self._flush_prose()
        code, norun, notes = convert_code(source)
        self.notes.extend(f"notebook cell {number}: {n}" for n in notes)
        fence = fence_for(code)
        block = f"{fence}python{' norun' if norun else ''}\n{code}\n{fence}"
        text, dropped = _output_text(outputs)
        if text and not norun:
            out_fence = fence_for(text)
            block += f"\n{out_fence}output\n{text}\n{out_fence}"
        elif text:
            dropped.append("its printed output (the cell does not run)")
        self.blocks.append(block)
        for note in notes:
            self.comment(note)
        if dropped:
            self.comment("dropped " + ", ".join(dropped))
            self.notes.append(f"notebook cell {number}: dropped " + ", ".join(dropped))

    def comment(self, text: str, note: bool = False) -> None:
        self._flush_prose()
        self.blocks.append(f"<!-- {_NOTE_PREFIX} {text.replace('--', '- -')} -->")
        if note:
            self.notes.append(text)

    def finish(self) -> str:
        self._flush_prose()
        return "\n\n".join(self.blocks) + "\n"


def convert_code(source: str) -> tuple[str, bool, list[str]]:
    """(code, norun, notes) for one notebook code cell.

    Valid Python is kept verbatim (so a `%` inside a string or an expression is
    never touched). Otherwise IPython magics and `!shell` lines are commented
    out; if the result is still not Python the cell becomes norun.
    """
    if _parses(source):
        return _without_ipython_display(source, [])
    lines = source.splitlines()
    notes: list[str] = []
    cell_magic = _CELL_MAGIC.match(lines[0])
    if cell_magic and cell_magic.group(1) not in PYTHON_CELL_MAGICS:
        lines[0] = _commented(lines[0])
        return "\n".join(lines), True, [f"%%{cell_magic.group(1)} cell: not Python, marked norun"]
    commented = 0
    continuing = False
    for i, line in enumerate(lines):
        if continuing or _LINE_MAGIC.match(line):
            continuing = line.rstrip().endswith("\\")
            lines[i] = _commented(line)
            commented += 1
    code = "\n".join(lines)
    if commented:
        notes.append(f"{commented} IPython magic/shell line(s) commented out")
    if not _parses(code):
        error = _syntax_error(code)
        notes.append(f"not valid Python ({error}), marked norun")
        return code, True, notes
    return _without_ipython_display(code, notes)


# Jupyter's display() and clear_output() are builtins of lesson code (runner.py): an
# import of only these from IPython (not installed with tutor) is commented out.
LESSON_DISPLAY = frozenset({"display", "clear_output"})
_IPYTHON_DISPLAY = frozenset({"IPython.display", "IPython.core.display"})


def _without_ipython_display(code: str, notes: list[str]) -> tuple[str, bool, list[str]]:
    tree = ast.parse(code)
    lines = code.splitlines()
    commented = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in _IPYTHON_DISPLAY and all(
                alias.name in LESSON_DISPLAY and alias.asname in (None, alias.name) for alias in node.names):
            for i in range(node.lineno - 1, (node.end_lineno or node.lineno)):
                lines[i] = _commented(lines[i])
            commented += 1
    if not commented:
        return code, False, notes
    changed = "\n".join(lines) + ("\n" if code.endswith("\n") else "")
    if not _parses(changed):  # the import was a block's only statement: keep it
        return code, False, notes
    return changed, False, [*notes, f"{commented} IPython.display import(s) commented out "
                                    "(display() and clear_output() are lesson builtins)"]


def _commented(line: str) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    return f"{indent}# {line.lstrip()}  # IPython-only, commented out by tutor import"


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _syntax_error(code: str) -> str:
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except ValueError as exc:
        return str(exc)
    return "no error"


def _output_text(outputs: Iterable[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """(printed text to compare, descriptions of outputs that were dropped).

    Kept: stdout streams and the text/plain repr of execute_result (what the
    lesson runner prints for a cell's last expression) and of display_data that is
    no image (what `display(x)` prints in a lesson). Dropped: stderr (warnings
    differ between versions), images (a figure is drawn, not printed), other rich
    display data, and error tracebacks.
    """
    parts: list[str] = []
    dropped: list[str] = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            if output.get("name") == "stdout":
                parts.append(_join(output.get("text", "")))
            else:
                _add_once(dropped, "stderr output")
        elif kind in ("execute_result", "display_data") and "text/plain" in output.get("data", {}) and (
                kind == "execute_result" or not any(k.startswith("image/") for k in output["data"])):
            text = _join(output["data"]["text/plain"])
            parts.append(text if text.endswith("\n") else text + "\n")
        elif kind in ("display_data", "execute_result"):
            kinds = sorted(k for k in output.get("data", {}) if k != "text/plain")
            _add_once(dropped, f"a display output ({', '.join(kinds) or 'text/plain'})")
        elif kind == "error":
            _add_once(dropped, f"an error the notebook raised ({output.get('ename', 'Error')})")
    text = _ANSI.sub("", "".join(parts))
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n"), dropped


def _add_once(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)
