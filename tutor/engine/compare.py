"""Does a cell's real output match its ```output block? (design §9)

The expected text was printed on some other machine, often by another torch version.
The comparison forgives exactly what legitimately differs between those and nothing
else, so that a teacher can trust both a ✓ and a ✗:

- blank lines are ignored, and whitespace inside a line does not matter (torch pads
  tensor columns differently when a sign changes);
- memory addresses (`<torch._C.Generator object at 0x7f…>`) are ignored;
- grad_fn names are compared without their version digit (`MeanBackward1` printed
  by torch 1.x is today's `MeanBackward0`);
- each line is split into number tokens and the text between them; the text must be
  equal, and each number must be within 1e-4 relative of its counterpart or within
  one unit of the last digit printed in the *expected* text (`2.352` accepts
  `2.351`..`2.353`: float rounding on another CPU, AVX512 or not, moves the last
  printed digit; `2.452` is a real difference). `nan` equals `nan`, `inf` equals
  `inf` of the same sign.
- an integer (no decimal point, no exponent: an epoch, a count, a shape) printed
  where an integer was expected must be equal: one unit of its last digit would make
  `step 2` match `step 3`. Against a float (`loss 3` predicted, `loss 3.00001`
  printed) only the relative rule applies.

A number is a decimal literal not glued to a word on its left (`Backward0` is text).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

TOLERANCE = 1e-4

NUMBER = re.compile(
    r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w])"
    r"|(?<![\w.])[-+]?(?:nan|inf)(?![\w])"
)
_SPACE = re.compile(r"\s+")
_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+")
_GRAD_FN_VERSION = re.compile(r"(Backward)\d+\b")


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


def normalise(line: str) -> str:
    """The line with what may legitimately differ between machines blanked out
    (addresses, grad_fn version digits); numbers are left for `lines_match`."""
    return _GRAD_FN_VERSION.sub(r"\1", _ADDRESS.sub("at 0x…", line))


@dataclass(frozen=True)
class Number:
    """A printed number and the unit of its last printed digit (None: compare
    relatively only, e.g. an integer or `8.`)."""

    value: float
    unit: float | None
    integer: bool


def parse_number(token: str) -> Number:
    value = float(token)
    body = token.lower().lstrip("+-")
    if body in ("nan", "inf"):
        return Number(value, None, False)
    mantissa, _, exponent = body.partition("e")
    whole, dot, fraction = mantissa.partition(".")
    if not dot and not exponent:
        return Number(value, None, True)
    if not fraction:
        return Number(value, None, False)
    unit = 10.0 ** (int(exponent or 0) - len(fraction))
    return Number(value, unit, False)


def _tokens(line: str) -> tuple[list[str], list[str]]:
    texts, numbers = [], []
    pos = 0
    line = normalise(line)
    for match in NUMBER.finditer(line):
        texts.append(_SPACE.sub("", line[pos: match.start()]))
        numbers.append(match.group())
        pos = match.end()
    texts.append(_SPACE.sub("", line[pos:]))
    return texts, numbers


def numbers_close(a: float, b: float, tolerance: float = TOLERANCE) -> bool:
    """Within `tolerance` relative (nan equals nan, inf equals inf of the same sign)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tolerance * max(abs(a), abs(b))


def number_matches(expected: str, got: str) -> bool:
    """`got` printed where `expected` was: equal as §9 says (see the module doc)."""
    e, g = parse_number(expected), parse_number(got)
    if e.integer and g.integer:
        return e.value == g.value
    if numbers_close(e.value, g.value):
        return True
    if e.unit is None or math.isnan(g.value) or math.isinf(g.value):
        return False
    # one unit of the last digit, with room for the binary representation of both
    return abs(e.value - g.value) <= e.unit * (1 + 1e-9) + 1e-12 * abs(e.value)


def lines_match(expected: str, got: str) -> bool:
    e_texts, e_numbers = _tokens(expected)
    g_texts, g_numbers = _tokens(got)
    if e_texts != g_texts or len(e_numbers) != len(g_numbers):
        return False
    return all(number_matches(a, b) for a, b in zip(e_numbers, g_numbers))


def first_difference(expected: str, got: str) -> tuple[int, int]:
    """Columns in `expected` and `got` where they first differ by the rules above
    (the start of the first number that does not match, or the first differing
    character of the text between numbers, spaces skipped)."""
    e_parts, g_parts = _parts(expected), _parts(got)
    for (e_kind, e_text, e_col), (g_kind, g_text, g_col) in zip(e_parts, g_parts):
        if e_kind != g_kind:
            return e_col, g_col
        if e_kind == "skip":
            continue
        if e_kind == "number":
            if not number_matches(e_text, g_text):
                return e_col, g_col
            continue
        e_chars = [(e_col + i, c) for i, c in enumerate(e_text) if not c.isspace()]
        g_chars = [(g_col + i, c) for i, c in enumerate(g_text) if not c.isspace()]
        for (ei, ec), (gi, gc) in zip(e_chars, g_chars):
            if ec != gc:
                return ei, gi
        if len(e_chars) != len(g_chars):
            n = min(len(e_chars), len(g_chars))
            ends = (e_col + len(e_text), g_col + len(g_text))
            return (e_chars[n][0] if n < len(e_chars) else ends[0],
                    g_chars[n][0] if n < len(g_chars) else ends[1])
    if len(e_parts) != len(g_parts):
        shorter = min(len(e_parts), len(g_parts))
        return (e_parts[shorter][2] if shorter < len(e_parts) else len(expected),
                g_parts[shorter][2] if shorter < len(g_parts) else len(got))
    return min(len(expected), len(got)), min(len(expected), len(got))


_SKIPPED = re.compile(r"(?<=\bat 0x)[0-9a-fA-F]+|(?<=Backward)\d+\b")


def _parts(line: str) -> list[tuple[str, str, int]]:
    """("text" | "number" | "skip", token, column): the line as `lines_match` sees it,
    with columns of the original line ("skip": an address or grad_fn version digit)."""
    parts: list[tuple[str, str, int]] = []
    pos = 0
    spans = sorted(
        [("skip", m) for m in _SKIPPED.finditer(line)]
        + [("number", m) for m in NUMBER.finditer(line)
           if not any(s.start() <= m.start() < s.end() for s in _SKIPPED.finditer(line))],
        key=lambda item: item[1].start(),
    )
    for kind, match in spans:
        parts.append(("text", line[pos: match.start()], pos))
        parts.append((kind, match.group(), match.start()))
        pos = match.end()
    parts.append(("text", line[pos:], pos))
    return [part for part in parts if part[0] != "text" or part[1].strip()]


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
