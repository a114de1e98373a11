"""sys.stdout and sys.stderr as lesson code sees them: what it writes goes to its run.

`print()` in a lesson is the runner's own (it captures what it prints), but lesson
code and the libraries it calls also write to the streams directly:
`sys.stdout.write`, `warnings.warn` (via `warnings.showwarning`), `logging`, tqdm's
progress bars (stderr), `traceback.print_exc()`. In a kernel process those streams
are /dev/null and the fault log, so without this the learner would never see them;
in `tutor run` they would bypass the run's events. As in Jupyter, both become the
cell's output: stdout joins what it printed, stderr is kept apart (RunState.stderr),
shown but never compared with the notebook's text (which keeps stdout only).

The streams are process-wide, while a run's code runs on one worker thread: each is
replaced once by a `_Routed` stream that sends the writes of a routed thread to its
run and those of every other thread (the kernel's IO loop, `tutor run` itself, the
test runner) to the stream it replaced. Writes to file descriptors 1 and 2 (a
subprocess, a C library) are not seen here: in a kernel, kernel/fd_output.py takes
them (Runner.fd_output); in `tutor run` they reach the terminal as they are.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Write = Callable[[str], None]

_lock = threading.Lock()
_routes: dict[int, tuple[Write, Write]] = {}  # thread ident -> (stdout, stderr) writers
_inside = threading.local()  # .busy: this thread is in a writer (what it writes passes through)


class _Routed(io.TextIOBase):
    """Stands in for sys.stdout or sys.stderr (`which`: 0 or 1)."""

    def __init__(self, original: object, which: int) -> None:
        self.original = original
        self.which = which

    def _route(self) -> Write | None:
        writers = _routes.get(threading.get_ident())
        if writers is None or getattr(_inside, "busy", False):
            return None
        return writers[self.which]

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        route = self._route()
        if route is None:
            return self.original.write(text)
        with unrouted():  # a writer that prints (an event handler) does not come back here
            route(text)
        return len(text)

    def flush(self) -> None:
        if self._route() is None:
            flush = getattr(self.original, "flush", None)
            if flush is not None:
                flush()

    def isatty(self) -> bool:
        return False if self._route() is not None else bool(getattr(self.original, "isatty", lambda: False)())

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.original.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.original, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:
        return getattr(self.original, "errors", None)


def _install() -> None:
    if not isinstance(sys.stdout, _Routed):
        sys.stdout = _Routed(sys.stdout, 0)
    if not isinstance(sys.stderr, _Routed):
        sys.stderr = _Routed(sys.stderr, 1)


@contextmanager
def routed(stdout: Write, stderr: Write) -> Iterator[None]:
    """While inside, what this thread writes to sys.stdout goes to `stdout` and to
    sys.stderr to `stderr`. The replacement streams stay installed afterwards (another
    run may still hold them, e.g. a tqdm bar made in one cell and used in the next);
    with no route they pass everything through."""
    ident = threading.get_ident()
    with _lock:
        _install()
        _routes[ident] = (stdout, stderr)
    try:
        yield
    finally:
        with _lock:
            if _routes.get(ident) == (stdout, stderr):
                del _routes[ident]


@contextmanager
def unrouted() -> Iterator[None]:
    """What this thread writes meanwhile goes to the real streams (the engine's own
    output from the worker thread: an event handler of `tutor run`, a test's)."""
    busy = getattr(_inside, "busy", False)
    _inside.busy = True
    try:
        yield
    finally:
        _inside.busy = busy
