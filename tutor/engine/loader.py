"""Lesson files (Markdown + YAML front matter) → `Lesson`.

Parsing is done by markdown-it-py (CommonMark) with the mdit-py-plugins front
matter and container plugins, and PyYAML's safe loader; this module only walks the
token stream. markdown-it accepts broken input silently (an unclosed fence runs to
the end of the file, an unclosed `:::` block is closed for it, front matter with no
closing `---` is no front matter at all), so every closer is checked here.

The format (docs/lesson-format.md):

- front matter keys `id`, `title{en,ko}`, `summary{en,ko}`, `cost`, `lr`, `seed`;
- `::: en` / `::: ko` blocks hold one language's prose, text outside shows in both;
- ```` ```python ```` fences are cells, ```` ```python norun ```` is shown only,
  an ```` ```output ```` fence directly after a cell is that cell's expected output;
- top-level `## English | 한국어` headings start sections; what comes before the
  first one is section 0 (titled with the lesson title);
- `::: hint` blocks (or `:::: hint` holding `::: en` and `::: ko`) are hints.

Section prose keeps the original Markdown source lines (minus code cells, output
blocks, block markers and hints) so the app can render it as Markdown.

`analyse` collects every problem it finds (for `tutor check`); `load_lesson` raises
the first one. Nothing here imports torch or Textual.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from tutor.engine.lesson import Cell, Lesson, OutputBlock, Section, Text
from tutor.engine.lesson_index import bundled_lessons_dir, lesson_files  # noqa: F401 - re-exported

LANG_BLOCKS = ("en", "ko")
BLOCK_NAMES = ("en", "ko", "hint")
KNOWN_KEYS = ("id", "title", "summary", "cost", "lr", "seed", "landscape")
ID_PATTERN = re.compile(r"[a-z0-9-]+")

_FENCE_CLOSE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
_COLON_LINE = re.compile(r"^ {0,3}(:{3,})(.*)$")
_QUOTE_PREFIX = re.compile(r"^(\s*>)+")  # block quote markers before a nested block's line
_TITLE_SPLIT = re.compile(r"(?:^|\s)\|(?:\s|$)")  # `English | 한국어`
# Fence words that look like a cell or an output block but are not spelled like one
# (`python3`, `Python`, `ipython3`, `Output`): warned about, never run (docs/decisions.md).
CELL_LIKE_FENCE = re.compile(r"(i?python[23]?|output)", re.IGNORECASE)
# Names writers use for a language block's code, and what they mean.
_LANG_ALIASES = {"kr": "ko", "kor": "ko", "korean": "ko", "eng": "en", "english": "en",
                 "hints": "hint"}


class LessonError(Exception):
    """A problem in a lesson file, located at a 1-based line.

    `line` is None for problems that belong to no line (a missing file, an empty
    lesson directory); `str()` is then `PATH: message`.
    """

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __reduce__(self) -> tuple:
        return (type(self), (self.path, self.line, self.message))  # (lesson_index.py pickles them)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else f"{self.path}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class LangBlock:
    """A `::: en` / `::: ko` block outside hints (the checker looks for sections that
    have text in one language only)."""

    lang: str
    line: int  # 1-based line of `::: en` / `::: ko`
    section: int
    has_text: bool


@dataclass
class Analysis:
    """Everything the loader learned about one file.

    `lesson` is None only when the file could not be read or decoded, or its front
    matter is not closed; otherwise it is built as well as the errors allow
    (missing keys get empty values), so the checker can still look at its cells.
    """

    path: Path
    lesson: Lesson | None = None
    errors: list[LessonError] = field(default_factory=list)
    warnings: list[LessonError] = field(default_factory=list)
    id_line: int = 1
    lang_blocks: list[LangBlock] = field(default_factory=list)
    hint_lines: list[int] = field(default_factory=list)  # opening line of each hint, in order
    norun_outputs: list[int] = field(default_factory=list)  # output blocks after a norun cell
    # A `:::` block is unclosed, closed by the wrong line or has an unknown name: which
    # text is in which language is then unknown, and the checker's one-language
    # warnings would only repeat that error.
    blocks_broken: bool = False

    def error(self, line: int | None, message: str) -> None:
        self.errors.append(LessonError(self.path, line, message))

    def block_error(self, line: int | None, message: str) -> None:
        """An error in the `:::` block structure (see `blocks_broken`)."""
        self.blocks_broken = True
        self.error(line, message)

    def warning(self, line: int | None, message: str) -> None:
        self.warnings.append(LessonError(self.path, line, message))


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark").use(front_matter_plugin)
    # `$$ … $$` is one block: a line of `=` or `-` inside it is not a setext heading.
    md.use(dollarmath_plugin)
    for name in BLOCK_NAMES:
        md.use(container_plugin, name)
    # Only the block structure is used (prose stays Markdown source); skipping the
    # inline pass halves the parse time.
    md.disable("inline", ignoreInvalid=True)
    return md


_MD = _markdown()
# PyYAML's safe loader, in C when libyaml is there (the same results, faster).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --- public API ---------------------------------------------------------------------


def load_lesson(path: Path | str) -> Lesson:
    """The lesson in `path`; raises LessonError on the first problem found."""
    result = analyse(path)
    if result.errors:
        raise result.errors[0]
    assert result.lesson is not None
    return result.lesson


def discover(lessons_dir: Path | str) -> tuple[list[Lesson], list[LessonError]]:
    """Every lesson of a directory in file-name order, and the problems of the files
    that could not be loaded (valid lessons are returned all the same). A file whose
    id an earlier file already has is not loaded: ids name lessons.

    Never raises: a missing directory, or one without lesson files, is returned as a
    single LessonError for the directory (line None).
    """
    lessons_dir = Path(lessons_dir)
    if not lessons_dir.is_dir():
        return [], [LessonError(lessons_dir, None, "lesson directory not found")]
    files = lesson_files(lessons_dir)
    if not files:
        return [], [LessonError(lessons_dir, None, "no lesson files (*.md) in this directory")]
    lessons: list[Lesson] = []
    errors: list[LessonError] = []
    seen: dict[str, Path] = {}
    for path in files:
        result = analyse(path)
        if result.errors:
            errors.append(result.errors[0])
            continue
        lesson = result.lesson
        assert lesson is not None
        if lesson.id in seen:
            errors.append(LessonError(path, result.id_line,
                                      f"duplicate id {lesson.id!r} (also in {seen[lesson.id].name})"))
            continue
        seen[lesson.id] = path
        lessons.append(lesson)
    return lessons, errors


def find_lesson(ref: str, lessons_dir: Path | str,
                discovered: tuple[list[Lesson], list[LessonError]] | None = None) -> Lesson:
    """The lesson named by `ref`: a path to a `.md` file, or an id in `lessons_dir`
    (`discovered`: the directory's `discover()` result when the caller has it).

    Raises LessonError when the file is invalid or missing, or no lesson of the
    directory has that id.
    """
    as_path = Path(ref)
    if ref.endswith(".md") or as_path.is_file():
        if as_path.is_dir():
            raise LessonError(as_path, None, "is a directory, not a lesson file")
        if not as_path.is_file():
            raise LessonError(as_path, None, "no such lesson file")
        return load_lesson(as_path)
    lessons, errors = discovered if discovered is not None else discover(lessons_dir)
    for lesson in lessons:
        if lesson.id == ref:
            return lesson
    if not lessons and errors and errors[0].line is None:
        raise errors[0]
    known = ", ".join(lesson.id for lesson in lessons) or "none"
    broken = f"; {len(errors)} file(s) with errors not counted" if errors else ""
    raise LessonError(Path(lessons_dir), None,
                      f"unknown lesson {ref!r} (lessons here: {known}{broken})")


def analyse(path: Path | str) -> Analysis:
    """Read and parse one lesson file, collecting every problem instead of stopping
    at the first."""
    path = Path(path)
    result = Analysis(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        result.error(None, f"cannot read: {exc.strerror or exc}")
        return result
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        result.error(line, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})")
        return result
    _Parser(result, text).parse()
    return result


# --- parsing ------------------------------------------------------------------------


@dataclass
class _Line:
    """Where a source line belongs once the tokens are walked."""

    prose: bool = True  # False: front matter, fence of a cell/output, block marker, heading
    lang: str | None = None  # "en"/"ko" inside a language block, None: both
    hint: int | None = None  # index of the hint holding it


@dataclass
class _Hint:
    line: int
    section: int


class _Parser:
    """One pass over markdown-it's block tokens: each source line is tagged with
    where it belongs (`_Line`), then sections, prose, cells and hints are cut from
    the tagged lines. Problems go to the Analysis; parsing goes on after them."""

    def __init__(self, result: Analysis, text: str) -> None:
        if text.startswith("\ufeff"):
            text = text[1:]
        self.text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.lines = self.text.split("\n")
        # markdown-it's line count: a final newline does not start another line.
        self.end = len(self.lines) - 1 if self.text.endswith("\n") else len(self.lines)
        self.result = result
        self.info = [_Line() for _ in self.lines]
        self.section_starts: list[tuple[int, Text]] = []  # (0-based heading line, title)
        self.cells: list[dict] = []
        self.hints: list[_Hint] = []
        # Whether each `:::` block (by id of its open token) has its own closing line.
        self.closed: dict[int, bool] = {}
        # Blocks whose missing closer is already explained by another message.
        self.explained: set[int] = set()
        # Colons of `::: NAME` lines with an unknown name not yet matched by a closer.
        self.unknown_open: list[int] = []

    # The lesson line of a 0-based source line.
    @staticmethod
    def _at(index: int) -> int:
        return index + 1

    def parse(self) -> None:
        tokens = _MD.parse(self.text)
        meta = self._front_matter(tokens)
        if meta is None:
            return
        self._walk(tokens)
        self._build(meta)

    # -- front matter ---------------------------------------------------------------

    def _front_matter(self, tokens: list[Token]) -> dict | None:
        result = self.result
        if not tokens or tokens[0].type != "front_matter":
            if self.lines and self.lines[0].rstrip() == "---":
                result.error(1, "front matter is not closed: no second '---' line")
                return None
            result.error(1, "missing front matter: a lesson starts with a '---' line, "
                            "then id and title, then '---'")
            return {}
        token = tokens[0]
        for i in range(token.map[0], token.map[1]):
            self.info[i].prose = False
        return _FrontMatter(result, token.content, first_line=token.map[0] + 2).read()

    # -- body -----------------------------------------------------------------------

    def _walk(self, tokens: list[Token]) -> None:
        result = self.result
        stack: list[tuple[str, Token]] = []  # open containers (name, open token)
        parents: list[Token] = []  # every open block token (containers, lists, quotes...)
        previous: dict[int, Token] = {}  # last block token seen at each level
        for token in tokens:
            kind = token.type
            if kind == "front_matter":
                continue
            if token.nesting == -1 and parents:
                parents.pop()
            if kind.startswith("container_") and kind.endswith("_open"):
                parent_end = parents[-1].map[1] if parents else self.end
                self.closed[id(token)] = self._closes(token, parent_end)
                self._open_block(token, stack)
            elif kind.startswith("container_") and kind.endswith("_close"):
                name, opener = stack.pop()
                if not self.closed[id(opener)]:
                    if id(opener) not in self.explained:
                        result.block_error(self._at(opener.map[0]),
                                     f"'{opener.markup} {name}' block is not closed "
                                     f"(no '{opener.markup}' line)")
                else:
                    self.info[opener.map[1]].prose = False
                    if name != "hint" and not any(n == "hint" for n, _ in stack):
                        self._lang_block(name, opener)
            elif kind == "heading_open" and token.tag == "h2" and token.level == 0:
                self._heading(token)
            elif kind == "heading_open" and token.tag == "h2" and stack:
                result.warning(self._at(token.map[0]), f"'##' heading inside a '::: {stack[-1][0]}' "
                                                       "block is prose, not a section")
            elif kind == "fence":
                parent_end = parents[-1].map[1] if parents else self.end
                self._fence(token, stack, previous.get(token.level), parent_end)
            elif kind == "paragraph_open":
                self._stray_markers(token, stack)
            if token.nesting == 1:
                parents.append(token)
            if token.map is not None and kind != "inline":
                previous[token.level] = token

    def _closes(self, opener: Token, parent_end: int) -> bool:
        """Whether markdown-it found the block's closing line. It leaves no trace of
        that in the tokens (an unclosed block gets a close token too), but a closed
        block ends before its parent does, on a line of at least as many colons."""
        end = opener.map[1]
        if end >= min(parent_end, self.end):
            return False
        match = _COLON_LINE.match(_QUOTE_PREFIX.sub("", self.lines[end]).lstrip())
        return bool(match) and not match.group(2).strip() and len(match.group(1)) >= len(opener.markup)

    def _mark(self, start: int, end: int, lang: str | None, hint: int | None = None) -> None:
        """Record the block (lines start..end-1) as belonging to `lang` / `hint`."""
        for i in range(start, min(end, len(self.info))):
            if lang is not None:
                self.info[i].lang = lang
            if hint is not None:
                self.info[i].hint = hint

    def _open_block(self, token: Token, stack: list[tuple[str, Token]]) -> None:
        name = token.type[len("container_"):-len("_open")]
        line = self._at(token.map[0])
        self.info[token.map[0]].prose = False
        names = [n for n, _ in stack]
        if stack and len(token.markup) >= len(stack[-1][1].markup):
            # A block cannot end inside a parent with no more colons than it has: the
            # parent ends at its closer first. Almost always the parent was never
            # closed (`::: ko` … `::: en`), so that is where the error goes.
            names = []  # the nesting itself is not the writer's mistake
            self._unclosed_parent(stack[-1], name, token)
        if name == "hint":
            if "hint" in names:
                self.result.error(line, "a hint block inside another hint block")
            self.hints.append(_Hint(line, self._section_at(token.map[0])))
            self.result.hint_lines.append(line)
            self._mark(token.map[0] + 1, token.map[1], None, hint=len(self.hints) - 1)
        else:
            if any(n in LANG_BLOCKS for n in names):
                self.result.error(line, f"a '::: {name}' block inside another language block")
            self._mark(token.map[0] + 1, token.map[1], name)
        stack.append((name, token))

    def _unclosed_parent(self, parent: tuple[str, Token], name: str, token: Token) -> None:
        parent_name, opener = parent
        self.explained.add(id(token))
        if id(opener) in self.explained:
            return  # reported at its first inner block
        self.explained.add(id(opener))
        mark, inner = opener.markup, f"'{token.markup} {name}' at line {self._at(token.map[0])}"
        if parent_name in LANG_BLOCKS and name in LANG_BLOCKS:
            fix = f"add a '{mark}' line before it"
        else:
            more = ":" * (len(token.markup) + 1)
            fix = f"close it there, or, to hold the inner block, open it with " \
                  f"'{more} {parent_name}' and close it with '{more}'"
        self.result.block_error(self._at(opener.map[0]),
                          f"'{mark} {parent_name}' block is not closed before {inner} ({fix})")

    def _lang_block(self, name: str, opener: Token) -> None:
        start, end = opener.map[0] + 1, opener.map[1]
        has_text = any(self.lines[i].strip() and self.info[i].prose and self.info[i].hint is None
                       for i in range(start, end))
        self.result.lang_blocks.append(
            LangBlock(name, self._at(opener.map[0]), self._section_at(opener.map[0]), has_text))

    def _heading(self, token: Token) -> None:
        index = token.map[0]
        self.info[index].prose = False
        raw = self.lines[index].strip()
        content = re.sub(r"^#+", "", raw).strip()
        content = re.sub(r"[ \t]+#+$", "", content).strip()  # optional closing #s
        parts = _TITLE_SPLIT.split(content, maxsplit=1)
        en, ko = (parts[0].strip(), parts[-1].strip())
        if not en or not ko:
            self.result.error(self._at(index), "a section heading needs a title "
                                               "('## English | 한국어', or one title for both)")
        self.section_starts.append((index, Text(en=en, ko=ko or en)))

    def _section_at(self, index: int) -> int:
        """Section number of 0-based source line `index` (0: the introduction)."""
        number = 0
        for i, (start, _) in enumerate(self.section_starts, start=1):
            if start <= index:
                number = i
        return number

    def _fence(self, token: Token, stack: list[tuple[str, Token]], before: Token | None,
               parent_end: int) -> None:
        result = self.result
        start, end = token.map
        line = self._at(start)
        words = token.info.split()
        lang = words[0] if words else ""
        if not self._fence_closed(token, parent_end):
            result.error(line, f"code fence '{token.markup}{token.info}' is not closed "
                               f"(no closing '{token.markup}' line)")
            return
        if lang not in ("python", "output"):
            if CELL_LIKE_FENCE.fullmatch(lang):
                kind = "an expected output block" if lang.lower() == "output" else "a code cell"
                word = "output" if lang.lower() == "output" else "python"
                result.warning(line, f"fence '{token.markup}{lang}' is prose, never run or compared: "
                                     f"write '{token.markup}{word}' for {kind}, or "
                                     f"'{token.markup}text' to keep it as shown text")
            return  # any other fence is prose
        for i in range(start, end):
            self.info[i].prose = False
        if any(n in LANG_BLOCKS or n == "hint" for n, _ in stack):
            where = "hint" if any(n == "hint" for n, _ in stack) else "language"
            result.error(line, f"a ```{lang} block inside a {where} block: cells belong to both "
                               "languages; put them outside '::: en' / '::: ko' / '::: hint'")
            return
        if lang == "python":
            options = words[1:]
            if options not in ([], ["norun"]):
                result.error(line, f"unknown python fence option {' '.join(options)!r} "
                                   "(only 'norun' is allowed)")
            self.cells.append(dict(source=token.content, line=line + 1,
                                   section=self._section_at(start), norun=options == ["norun"],
                                   expected=None, token=token))
            return
        if len(words) > 1:
            result.error(line, f"unknown output fence option {' '.join(words[1:])!r}")
        cell = self.cells[-1] if self.cells else None
        if before is None or before.type != "fence" or cell is None or cell["token"] is not before:
            result.error(line, "output block with no code cell directly before it")
            return
        if cell["norun"]:
            result.norun_outputs.append(line)
        cell["expected"] = OutputBlock(text=token.content, line=line)

    def _fence_closed(self, token: Token, parent_end: int) -> bool:
        """markdown-it ends an unclosed fence where its parent ends (the file, a block,
        a list item); a closed one ends after its closing line, which may be there too."""
        start, end = token.map
        if end < min(parent_end, self.end):
            return True
        if end - 1 <= start:
            return False
        opening = _QUOTE_PREFIX.sub("", self.lines[start])
        closing = _QUOTE_PREFIX.sub("", self.lines[end - 1])
        indent = len(closing) - len(closing.lstrip(" "))
        if indent - (len(opening) - len(opening.lstrip(" "))) > 3:
            return False  # indented too far to close: code
        match = _FENCE_CLOSE.match(closing.strip())
        return bool(match) and match.group(1)[0] == token.markup[0] \
            and len(match.group(1)) >= len(token.markup)

    def _stray_markers(self, token: Token, stack: list[tuple[str, Token]]) -> None:
        """`:::` lines that markdown-it left in a paragraph: a closer with no opener
        (or too few colons for the open block around it), or an unknown block name."""
        for i in range(token.map[0], token.map[1]):
            match = _COLON_LINE.match(self.lines[i])
            if not match:
                continue
            colons, name = match.group(1), match.group(2).strip()
            if name:
                self._unknown_block(i, colons, name)
                continue
            if self.unknown_open and len(colons) >= self.unknown_open[-1]:
                self.unknown_open.pop()  # the closer of the unknown block: one error is enough
                continue
            open_around = [(n, t) for n, t in stack
                           if not self.closed[id(t)] and len(t.markup) > len(colons)]
            if open_around:
                block, opener = open_around[-1]
                self.explained.add(id(opener))
                self.result.block_error(self._at(i), f"'{colons}' does not close the "
                                               f"'{opener.markup} {block}' block opened at line "
                                               f"{self._at(opener.map[0])}: it needs "
                                               f"'{opener.markup}' ({len(opener.markup)} colons)")
            else:
                self.result.block_error(self._at(i), f"'{colons}' closes no open block")

    def _unknown_block(self, index: int, colons: str, name: str) -> None:
        """`::: kr`: named directly, with the known names and the likely one."""
        self.unknown_open.append(len(colons))
        guess = _LANG_ALIASES.get(name.lower()) or next(
            iter(difflib.get_close_matches(name.lower(), BLOCK_NAMES, n=1, cutoff=0.5)), None)
        maybe = f"; did you mean {guess}?" if guess else ""
        if guess in LANG_BLOCKS or (guess is None and len(name) <= 3 and name.isalpha()):
            message = f"unknown language block {name!r} (known: ko, en{maybe})"
        else:
            message = f"unknown block '{colons} {name}' (expected '::: en', '::: ko' or '::: hint'{maybe})"
        self.result.block_error(self._at(index), message)

    # -- assembling -----------------------------------------------------------------

    def _text(self, indexes: list[int], lang: str) -> str:
        """Markdown source of the lines among `indexes` shown in `lang`.

        Runs of blank lines become one; where removed lines (a cell, a block marker)
        separated two pieces of text, a blank line keeps them separate blocks.
        """
        out: list[str] = []
        gap = False
        for i in indexes:
            info = self.info[i]
            if not info.prose or info.lang not in (None, lang):
                gap = True
                continue
            line = self.lines[i]
            blank = not line.strip()
            if blank:
                if out and out[-1].strip():
                    out.append("")
            else:
                if gap and out and out[-1].strip():
                    out.append("")
                out.append(line)
            gap = False
        return "\n".join(out).strip("\n")

    def _build(self, meta: dict) -> None:
        result = self.result
        n = len(self.lines)
        bounds = [0] + [start for start, _ in self.section_starts] + [n]
        title = meta.get("title") or Text()
        titles = [title] + [t for _, t in self.section_starts]
        cells = tuple(
            Cell(index=i, source=c["source"], line=c["line"], section=c["section"],
                 norun=c["norun"], expected=c["expected"])
            for i, c in enumerate(self.cells)
        )
        sections = []
        for s in range(len(titles)):
            indexes = [i for i in range(bounds[s], bounds[s + 1]) if self.info[i].hint is None]
            hints = tuple(self._hint_text(h) for h, hint in enumerate(self.hints) if hint.section == s)
            sections.append(Section(
                index=s,
                title=titles[s],
                prose=Text(en=self._text(indexes, "en"), ko=self._text(indexes, "ko")),
                line=1 if s == 0 else bounds[s] + 1,
                cells=tuple(c.index for c in cells if c.section == s),
                hints=hints,
            ))
        result.lesson = Lesson(
            id=meta.get("id", ""),
            title=title,
            path=result.path,
            summary=meta.get("summary") or Text(),
            cost_name=meta.get("cost"),
            lr_name=meta.get("lr") or "lr",
            seed=meta.get("seed", 0),
            landscape=meta.get("landscape", ()),
            sections=tuple(sections),
            cells=cells,
        )

    def _hint_text(self, h: int) -> Text:
        indexes = [i for i, info in enumerate(self.info) if info.hint == h]
        return Text(en=self._text(indexes, "en"), ko=self._text(indexes, "ko"))


class _FrontMatter:
    """The YAML front matter: values checked, each problem at the line of its key."""

    def __init__(self, result: Analysis, content: str, first_line: int) -> None:
        self.result = result
        self.content = content
        self.first_line = first_line  # lesson line of the first YAML line

    def _line(self, node) -> int:
        return self.first_line + node.start_mark.line

    def read(self) -> dict:
        result = self.result
        loader = _YAML_LOADER(self.content)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = self.first_line + mark.line if mark is not None else self.first_line - 1
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            hint = _colon_hint(self.content.split("\n"), line - self.first_line)
            result.error(line, f"front matter is not valid YAML: {problem}{hint}")
            return {}
        finally:
            loader.dispose()
        if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
            result.error(1, "front matter must be a YAML mapping (key: value lines)")
            return {}
        lines: dict[str, int] = {}
        for key_node, _ in root.value:
            key = key_node.value
            if key in lines:
                result.error(self._line(key_node), f"duplicate front matter key {key!r}")
            lines[key] = self._line(key_node)
            if key not in KNOWN_KEYS:
                result.warning(self._line(key_node), f"unknown front matter key {key!r} "
                                                     f"(known: {', '.join(KNOWN_KEYS)})")
        meta: dict = {}

        def where(key: str) -> int:
            return lines.get(key, 1)

        # id
        if "id" not in data:
            result.error(1, "missing front matter key 'id'")
        elif not isinstance(data["id"], str) or not ID_PATTERN.fullmatch(data["id"]):
            result.error(where("id"), f"id must be made of a-z, 0-9 and '-' only, got {data['id']!r}")
        else:
            meta["id"] = data["id"]
        result.id_line = where("id")
        # title (required) and summary (optional): {en, ko}
        for key, required in (("title", True), ("summary", False)):
            if key not in data:
                if required:
                    result.error(1, f"missing front matter key {key!r} (a mapping with en and ko)")
                continue
            value = self._bilingual(key, data[key], where(key))
            if value is not None:
                meta[key] = value
        for key in ("cost", "lr"):
            if key in data:
                value = data[key]
                if not isinstance(value, str) or not value.isidentifier():
                    result.error(where(key), f"{key} must be a Python variable name, got {value!r}")
                else:
                    meta[key] = value
        if "seed" in data:
            value = data["seed"]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                result.error(where("seed"), f"seed must be a whole number >= 0, got {value!r}")
            else:
                meta["seed"] = value
        if "landscape" in data:
            value = self._landscape(data["landscape"], where("landscape"))
            if value is not None:
                meta["landscape"] = value
        return meta

    def _landscape(self, value, line: int) -> tuple[str, ...] | None:
        """`landscape: [W, b]`: one or two parameter names or elements (`w[0, 1]`)."""
        from tutor.engine.landscape_plan import parse_axis_name

        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not 1 <= len(value) <= 2:
            self.result.error(line, f"landscape must be a list of one or two parameter names, got {value!r}")
            return None
        names = []
        for item in value:
            if not isinstance(item, str) or parse_axis_name(item) is None:
                self.result.error(line, f"landscape: {item!r} is not a parameter name such as W, "
                                        "b or model.linear.weight[0, 0]")
                return None
            names.append(item.strip())
        if len(set(names)) != len(names):
            self.result.error(line, f"landscape names the same parameter twice: {names[0]!r}")
            return None
        return tuple(names)

    def _bilingual(self, key: str, value, line: int) -> Text | None:
        if not isinstance(value, dict):
            self.result.error(line, f"{key} must be a mapping with en and ko, got {value!r}")
            return None
        for lang in LANG_BLOCKS:
            text = value.get(lang)
            if not isinstance(text, str) or not text.strip():
                self.result.error(line, f"{key}.{lang} is missing or not a non-empty string")
                return None
        extra = sorted(str(k) for k in value if k not in LANG_BLOCKS)
        if extra:
            self.result.warning(line, f"{key} has keys other than en and ko: {', '.join(extra)}")
        return Text(en=value["en"].strip(), ko=value["ko"].strip())


_KEY_VALUE = re.compile(r"^\s*(?:-\s+)?([A-Za-z_][\w.-]*):\s+(.*?)\s*$")


def _colon_hint(lines: list[str], index: int) -> str:
    """The fix when the YAML error is a plain value holding `: ` (`title: A: B`), the
    usual cause in a title: quote the value. Empty when that is not the cause."""
    if not 0 <= index < len(lines):
        return ""
    line = lines[index]
    match = _KEY_VALUE.match(line)
    if match is None or match.group(2)[:1] in ("'", '"'):
        return ""
    key, value = match.groups()
    if value.startswith("{"):  # flow mapping: `title: {en: A: B, ko: …}`
        inner = [part.strip() for part in value.strip("{}").split(",")]
        pieces = [_KEY_VALUE.match(part) for part in inner]
        bad = next((m for m in pieces if m and ": " in m.group(2) + " "
                    and m.group(2)[:1] not in ("'", '"')), None)
        if bad is None:
            return ""
        key, value = bad.groups()
    elif ": " not in value + " ":
        return ""
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    return f"; a value holding ': ' must be quoted: {key}: \"{quoted}\""
