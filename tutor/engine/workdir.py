"""Lesson code runs in the lesson file's directory (design §2; docs/architecture.md).

A notebook reads `open('points.csv')` or `np.loadtxt('data-01.csv')` next to itself;
the lesson made from it must find the same files wherever `tutor` was started. The
working directory is process-wide, so it is changed only while lesson code executes:
a run enters the lesson's directory when it starts or resumes and gives it back when
it waits for a command (paused), ends, fails or is cancelled. Only the run that
entered last may give it back, so an old run unwinding after a reset never moves the
directory from under the new one. In the app, lesson code runs in the kernel process
(one per lesson), so the app's own directory is not affected there either.

The directory is also first on `sys.path` meanwhile: a notebook's `from helpers
import plot_data` finds helpers.py next to it, as Jupyter (which puts its working
directory there) does.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

_lock = threading.Lock()
_owner: object | None = None
_home: str | None = None
_added: str | None = None  # the directory we put first on sys.path


def lesson_dir(path: Path | str) -> str:
    return str(Path(path).resolve().parent)


def enter(owner: object, directory: str) -> None:
    """Make `directory` the working directory for `owner`'s lesson code."""
    global _owner, _home, _added
    with _lock:
        if _owner is None:
            _home = os.getcwd()
        _owner = owner
        if os.getcwd() != directory:
            os.chdir(directory)
        if _added != directory:
            _unlist()
            if directory not in sys.path:
                sys.path.insert(0, directory)
                _added = directory


def leave(owner: object) -> None:
    """Give the directory back (to where it was before the first `enter`) unless
    another run entered since."""
    global _owner, _home
    with _lock:
        if _owner is not owner:
            return
        _owner = None
        _unlist()
        home, _home = _home, None
        if home is not None and os.getcwd() != home:
            try:
                os.chdir(home)
            except OSError:  # the old directory is gone: stay where we are
                pass


def _unlist() -> None:
    """Take the directory `enter` put on sys.path off it again."""
    global _added
    if _added is not None:
        try:
            sys.path.remove(_added)
        except ValueError:  # lesson code took it off itself
            pass
        _added = None
