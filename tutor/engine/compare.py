"""Does a cell's real output match its ```output block? (`tutor check --run`)

Printed numbers differ in the last digits between machines and torch versions, and
torch pads tensor columns differently when a sign changes, so the comparison is
deliberately forgiving in exactly those two ways and strict otherwise:

- blank lines are ignored, and whitespace inside a line does not matter;
- each line is split into number tokens and the text between them; the text must be
  equal, and each number must be within 1e-4 absolute or 1e-4 relative of its
  counterpart (`nan` equals `nan`, `inf` equals `inf` of the same sign).

A number is a decimal literal not glued to a word on its left (`Backward0` is text).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

TOLERANCE = 1e-4

_NUMBER = re.compile(
    r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w])"
    r"|(?<![\w.])[-+]?(?:nan|inf)(?![\w])"
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Mismatch:
    """The first differing line: `index` counts lines of the expected text (0-based,
    blank lines included); None for either side means that side ran out of lines."""

    index: int
    expected: str | None
    got: str | None

    def describe(self, limit: int = 60) -> str:
        return f"expected {_short(self.expected, limit)}, got {_short(self.got, limit)}"


def _short(line: str | None, limit: int) -> str:
    if line is None:
        return "nothing more"
    line = line.strip()
    return repr(line if len(line) <= limit else line[: limit - 1] + "…")


def _lines(text: str) -> list[tuple[int, str]]:
    return [(i, line) for i, line in enumerate(text.splitlines()) if line.strip()]


def _tokens(line: str) -> tuple[list[str], list[float]]:
    texts, numbers = [], []
    pos = 0
    for match in _NUMBER.finditer(line):
        texts.append(_SPACE.sub("", line[pos: match.start()]))
        numbers.append(float(match.group()))
        pos = match.end()
    texts.append(_SPACE.sub("", line[pos:]))
    return texts, numbers


def numbers_close(a: float, b: float, tolerance: float = TOLERANCE) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    diff = abs(a - b)
    return diff <= tolerance or diff <= tolerance * max(abs(a), abs(b))


def lines_match(expected: str, got: str) -> bool:
    e_texts, e_numbers = _tokens(expected)
    g_texts, g_numbers = _tokens(got)
    if e_texts != g_texts or len(e_numbers) != len(g_numbers):
        return False
    return all(numbers_close(a, b) for a, b in zip(e_numbers, g_numbers))


def compare_output(expected: str, got: str) -> Mismatch | None:
    """None when `got` matches `expected`, else the first differing line."""
    e_lines, g_lines = _lines(expected), _lines(got)
    for n in range(max(len(e_lines), len(g_lines))):
        e = e_lines[n] if n < len(e_lines) else None
        g = g_lines[n] if n < len(g_lines) else None
        if e is None or g is None or not lines_match(e[1], g[1]):
            index = e[0] if e is not None else (e_lines[-1][0] + 1 if e_lines else 0)
            return Mismatch(index=index, expected=None if e is None else e[1], got=None if g is None else g[1])
    return None
