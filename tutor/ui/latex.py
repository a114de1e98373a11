"""LaTeX math in prose (`$…$`, `$$…$$`) shown as Unicode text in the app.

Notebooks write their formulas in LaTeX, and the lesson file keeps them so (an
author edits LaTeX, and a browser could typeset it); a terminal cannot typeset, so
the prose pane shows them as Unicode: Greek letters and symbols (pylatexenc's
tables), sub- and superscripts as Unicode small digits and letters where every
character has one (`x²`, `xᵢ`, `W⁽ⁱ⁾`; otherwise `x^(n+1)`), `\\frac{a}{b}` as `a/b`
(parenthesised when needed), `\\hat{y}` as `ŷ`, `\\sum_{i=1}^{m}` as `∑ᵢ₌₁ᵐ`,
`\\sqrt{x}` as `√x`. Code spans and fences are left alone, and a `$` that does not
open math (`$5 and $10`: followed or preceded by a space) stays a dollar.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

SUPERSCRIPT = dict(zip(
    "0123456789+-=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVWαβγδεθιφχ",
    "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵅᵝᵞᵟᵋᶿᶥᵠᵡ",
))
SUBSCRIPT = dict(zip(
    "0123456789+-=()aehijklmnoprstuvxβγρφχ",
    "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ",
))
ACCENTS = {"hat": "\u0302", "widehat": "\u0302", "bar": "\u0304", "overline": "\u0304",
           "tilde": "\u0303", "widetilde": "\u0303", "vec": "\u20d7", "dot": "\u0307", "ddot": "\u0308"}
FONTS = {"text", "mathrm", "mathbf", "mathit", "mathsf", "mathtt", "operatorname", "boldsymbol",
         "bm", "textbf", "textit", "mbox"}
SPACES = {",": " ", ";": " ", ":": " ", "!": "", "quad": "  ", "qquad": "   ", " ": " "}
DROP = {"left", "right", "big", "Big", "bigg", "Bigg", "displaystyle", "limits", "nolimits",
        "begin", "end"}

_MACRO = re.compile(r"\\([A-Za-z]+|.)")
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<![\s\\])\$(?!\d)")
_CODE = re.compile(r"(^|\n)( {0,3})(`{3,}|~{3,})[^\n]*\n.*?(\n {0,3}\3[^\n]*(?=\n|$)|$)|`+[^`\n]*`+", re.S)
_MARKDOWN_SPECIAL = re.compile(r"([*_`\[\]<>#|~\\])")


@lru_cache(maxsize=512)
def _symbol(name: str) -> str:
    """A macro without arguments (`\\alpha`, `\\nabla`, `\\log`) as Unicode."""
    from pylatexenc.latex2text import LatexNodes2Text

    try:
        text = LatexNodes2Text(math_mode="text").latex_to_text("\\" + name)
    except Exception:  # noqa: BLE001 - an unknown macro stays readable
        text = ""
    return text if text.strip() else name


class _Parser:
    """A small recursive reader of math-mode LaTeX, enough for lesson formulas."""

    def __init__(self, source: str) -> None:
        self.s = source
        self.i = 0

    def parse(self, stop: str | None = None) -> str:
        out: list[str] = []
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if stop is not None and c == stop:
                self.i += 1
                return "".join(out)
            if c == "{":
                self.i += 1
                out.append(self.parse("}"))
            elif c in "^_":
                self.i += 1
                out.append(_script(self.argument(), SUPERSCRIPT if c == "^" else SUBSCRIPT, c))
            elif c == "\\":
                out.append(self.macro())
            elif c == "&":
                self.i += 1
                out.append(" ")
            elif c == "}":  # unbalanced: keep going
                self.i += 1
            elif c == "~":
                self.i += 1
                out.append(" ")
            else:
                self.i += 1
                out.append(c)
        return "".join(out)

    def argument(self) -> str:
        """The next argument: a braced group, a macro, or one character."""
        s = self.s
        while self.i < len(s) and s[self.i] == " ":
            self.i += 1
        if self.i >= len(s):
            return ""
        c = s[self.i]
        if c == "{":
            self.i += 1
            return self.parse("}")
        if c == "\\":
            return self.macro()
        self.i += 1
        return c

    def macro(self) -> str:
        match = _MACRO.match(self.s, self.i)
        if match is None:
            self.i += 1
            return "\\"
        self.i = match.end()
        name = match.group(1)
        if name == "\\":
            return "\n"
        if name in SPACES:
            return SPACES[name]
        if name in ("{", "}", "$", "%", "#", "&", "_"):
            return name
        if name in DROP:
            if name in ("begin", "end"):
                self.argument()  # the environment's name
            return ""
        if name in ("frac", "dfrac", "tfrac", "cfrac"):
            top, bottom = self.argument(), self.argument()
            return f"{_group(top)}/{_group(bottom)}"
        if name in ACCENTS:
            body = self.argument()
            mark = ACCENTS[name]
            # precomposed where Unicode has one (ŷ, x̄ stays combining): terminals draw those best
            return unicodedata.normalize("NFC", body + mark) if len(body) == 1 else f"{name}({body})"
        if name == "sqrt":
            body = self.argument()
            return "√" + _group(body)
        if name in FONTS:
            return self.argument()
        if name == "mathbb":
            body = self.argument()
            return {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "E": "𝔼"}.get(body, body)
        text = _symbol(name)
        if text == name and len(name) > 1:
            return name  # e.g. \argmin: its name reads well
        # a word-like operator (log, exp, min) is separated from what follows
        return text + " " if text.isalpha() and len(text) > 1 and text.isascii() else text


def _script(body: str, table: dict[str, str], mark: str) -> str:
    body = body.strip()
    if body and all(ch in table for ch in body):
        return "".join(table[ch] for ch in body)
    if len(body) == 1:
        return mark + body
    return f"{mark}({body})"


def _group(text: str) -> str:
    text = text.strip()
    if len(text) <= 1 or re.fullmatch(r"[\w.²³⁰¹⁴-⁹ᵢⱼₖₘₙ]+|\(.*\)", text):
        return text
    return f"({text})"


def latex_to_unicode(math: str) -> str:
    """One formula (without its dollars) as a line (or lines, at `\\\\`) of Unicode."""
    text = _Parser(" ".join(math.split("\n")).strip()).parse()  # a newline is a space in TeX
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def _escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _math_outside_code(text: str) -> str:
    def display(match: re.Match[str]) -> str:
        lines = latex_to_unicode(match.group(1)).split("\n")
        return "\n\n" + "  \n".join(_escape(line) for line in lines) + "\n\n"

    def inline(match: re.Match[str]) -> str:
        return _escape(latex_to_unicode(match.group(1)).replace("\n", " "))

    return _INLINE.sub(inline, _DISPLAY.sub(display, text))


def prose_math(markdown: str) -> str:
    """`markdown` with its `$…$` and `$$…$$` shown as Unicode (code untouched)."""
    if "$" not in markdown:
        return markdown
    out, pos = [], 0
    for match in _CODE.finditer(markdown):
        out.append(_math_outside_code(markdown[pos: match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_math_outside_code(markdown[pos:]))
    return "".join(out)
