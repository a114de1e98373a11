"""Plain data for a parsed lesson.

The loader builds these from a Markdown file; the checker, the runner, the command
line and the app only read them. Nothing here imports torch or Textual, so a lesson
can be listed and checked in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LANGS = ("ko", "en")


@dataclass(frozen=True)
class Text:
    """A piece of text in both languages (the same string twice when shared)."""

    en: str = ""
    ko: str = ""

    def get(self, lang: str) -> str:
        """The text in `lang`, falling back to the other language when empty."""
        primary, other = (self.ko, self.en) if lang == "ko" else (self.en, self.ko)
        return primary or other

    @classmethod
    def both(cls, text: str) -> "Text":
        return cls(en=text, ko=text)


@dataclass(frozen=True)
class OutputBlock:
    """The ```output block after a cell: what the cell should print."""

    text: str
    line: int  # 1-based line of the opening fence in the lesson file


@dataclass(frozen=True)
class Cell:
    """One ```python fence.

    `index` counts every cell of the lesson (runnable or not) in file order;
    `line` is the 1-based line in the lesson file of the cell's first code line,
    so that code compiled from `source` can be mapped back by adding `line - 1`.
    """

    index: int
    source: str
    line: int
    section: int
    norun: bool = False
    expected: OutputBlock | None = None

    @property
    def fence_line(self) -> int:
        return self.line - 1


@dataclass(frozen=True)
class Section:
    """A `## ` part of a lesson: prose per language, its cells and hints.

    The first section holds whatever comes before the first heading; its title is
    the lesson title.
    """

    index: int
    title: Text
    prose: Text
    line: int
    cells: tuple[int, ...] = ()  # indexes into Lesson.cells
    hints: tuple[Text, ...] = ()


@dataclass(frozen=True)
class Lesson:
    id: str
    title: Text
    path: Path
    summary: Text = field(default_factory=Text)
    cost_name: str | None = None  # None: `cost`, else `loss`
    lr_name: str = "lr"
    seed: int = 0
    # Front matter `landscape: [W, b]`: the parameters (or elements such as
    # `model.linear.weight[0, 0]`) the landscape view uses as its axes; () = automatic.
    landscape: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    cells: tuple[Cell, ...] = ()

    @property
    def runnable_cells(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if not c.norun)

    def section_of_cell(self, cell_index: int) -> Section:
        return self.sections[self.cells[cell_index].section]
