"""The section text: Textual's Markdown, minus its language guessing, with math.

`$…$` and `$$…$$` are shown as Unicode (tutor/ui/latex.py); the lesson file keeps
its LaTeX.

Textual highlights a code fence that names no language by asking Pygments to guess
it (`guess_lexer`), which imports every one of Pygments' ~250 lexer modules: about
5 MB more per learner and a pause on the UI thread the first time a lesson shows
such a fence (```output blocks, plain ``` examples). Prose fences without a
language are shown as plain text instead; named ones are highlighted as before.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Markdown
from textual.widgets._markdown import MarkdownFence

from tutor.ui.latex import prose_math


class PlainFence(MarkdownFence):
    """A fence highlighted by its own language, or none: never guessed."""

    @classmethod
    def highlight(cls, code: str, language: str, ansi: bool = False, dark: bool = False) -> Content:
        return super().highlight(code, language or "text", ansi, dark)


class Prose(Markdown):
    BLOCKS = {**Markdown.BLOCKS, "fence": PlainFence, "code_block": PlainFence}

    def update(self, markdown: str):
        return super().update(prose_math(markdown))
