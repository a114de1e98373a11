"""Can this terminal show the app? Checked before the app takes the screen over.

The app draws with cursor movement, colours, box-drawing characters and Hangul,
and Textual writes all of it to stderr. When that cannot work, a learner should
read one line saying what to change, not a screen of escape codes or a traceback:

- stdin, stdout or stderr not a terminal (`tutor < file`, `tutor | less`, cron):
  the app cannot read keys or draw; `tutor run` is the headless way.
- `TERM=dumb` (or no TERM at all): the terminal says it has no cursor control.
- a stream encoding that is not UTF-8: Python falls back to it only when asked to
  (`PYTHONUTF8=0` with a non-UTF-8 locale; a plain `LANG=C` gets UTF-8 from
  Python 3.11's C-locale coercion), and the picker would come out as `\\u2502`.

Only `tutor` (the app) checks; `tutor run/list/check` print plain text and work
anywhere.

One exception: `tutor serve` starts each browser tab's app with Textual's web
driver (`TEXTUAL_DRIVER=textual.drivers.web_driver:WebDriver`), which speaks a
packet protocol over pipes to the server instead of drawing on a terminal. There
the pipes are right, so the checks above do not apply. The exception holds only
when stdout really is not a terminal: the web driver set by hand in a real
terminal would print packets instead of a screen, so it is refused like a pipe
would be the other way round.
"""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Mapping
from typing import TextIO

WEB_DRIVER = "textual.drivers.web_driver:WebDriver"


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # closed or detached stream
        return False


def _is_utf8(stream: TextIO | None) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def terminal_problem(
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """One line saying why the app cannot run here, or None when it can."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    env = os.environ if environ is None else environ
    if env.get("TEXTUAL_DRIVER") == WEB_DRIVER:
        if _isatty(stdout):
            return ("TEXTUAL_DRIVER selects the web driver, which only works under "
                    "`tutor serve`; unset it to use this terminal")
        return None
    not_tty = [name for name, s in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr))
               if not _isatty(s)]
    if not_tty:
        return (f"this app needs a terminal ({', '.join(not_tty)} "
                f"{'is' if len(not_tty) == 1 else 'are'} not a TTY); "
                "to run a lesson without one, use `tutor run LESSON`")
    term = env.get("TERM", "")
    if term in ("", "dumb", "unknown"):
        shown = f"TERM={term}" if term else "TERM is not set"
        return f"this app needs a terminal with cursor control ({shown}); try TERM=xterm-256color"
    for name, stream in (("stdout", stdout), ("stderr", stderr)):
        if not _is_utf8(stream):
            encoding = getattr(stream, "encoding", None)
            return (f"this app needs a UTF-8 terminal ({name} encoding is {encoding}); "
                    "set LANG=C.UTF-8 (or another UTF-8 locale)")
    return None
