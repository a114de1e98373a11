"""Where lessons are, and the parsed lessons of a directory kept between starts.

The app's first frame lists the lessons, and parsing eleven of them (markdown-it and
PyYAML imported, every file read and analysed) is ~0.08 s of a first frame of ~0.5 s
on the 2-core machine. `discover_cached` keeps `loader.discover`'s result in one
pickle per lesson directory under the learner's cache directory, valid while every
lesson file has the name, modification time and size it had, and while the engine's
own source files are the ones that parsed it (an upgrade parses again). Anything
wrong with the cache file (missing, unreadable, another format) only means parsing
again; it is rewritten atomically, readable by its owner only.

Nothing here imports the loader's parsing dependencies unless it must parse.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zlib
from pathlib import Path
from typing import Any

FORMAT = 1  # bump when what is stored changes shape
ENGINE = Path(__file__).resolve().parent


def bundled_lessons_dir() -> Path:
    """The lessons shipped with tutor: `tutor/lessons/` inside an installed wheel,
    `<repo>/lessons` in a source checkout or an editable install."""
    package = ENGINE.parent
    inside = package / "lessons"
    if inside.is_dir():
        return inside
    return package.parent / "lessons"


def lesson_files(lessons_dir: Path) -> list[Path]:
    """The `*.md` files of a directory, sorted by file name (the lesson order)."""
    return sorted((p for p in Path(lessons_dir).glob("*.md") if p.is_file()), key=lambda p: p.name)


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/tutor, else ~/.cache/tutor."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tutor"


def file_signature(path: Path) -> tuple[int, int] | None:
    """(mtime in ns, size) of a file; None when it cannot be read (being replaced)."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def files_signature(files: list[Path]) -> tuple:
    """The names, mtimes and sizes of files: changes when one is added, removed,
    renamed or saved."""
    return tuple((p.name, file_signature(p)) for p in files)


def dir_signature(lessons_dir: Path) -> tuple:
    """files_signature of a lesson directory's files (() when it cannot be listed)."""
    try:
        files = lesson_files(Path(lessons_dir))
    except OSError:
        return ()
    return files_signature(files)


def _engine_signature() -> tuple:
    """The engine's source files as they are: a lesson parsed by other code is parsed again."""
    return files_signature(sorted(ENGINE.glob("*.py")))


def cache_path(lessons_dir: Path, cache_dir: Path) -> Path:
    """One file per lesson directory, named by a CRC of its path: zlib is loaded by
    Textual anyway, hashlib's OpenSSL would be 3 ms more of the first frame. Two
    directories sharing a name only take turns in one file (the key stored in it
    names the directory)."""
    digest = zlib.crc32(str(Path(lessons_dir).resolve()).encode())
    return Path(cache_dir) / f"lessons-{digest:08x}.pickle"


def discover_cached(lessons_dir: Path | str, cache_dir: Path | str) -> tuple[list[Any], list[Any]]:
    """`loader.discover(lessons_dir)`, from the cache when nothing it depends on changed."""
    lessons_dir = Path(lessons_dir)
    key = (FORMAT, str(lessons_dir.resolve()), dir_signature(lessons_dir), _engine_signature())
    path = cache_path(lessons_dir, Path(cache_dir))
    try:
        with open(path, "rb") as f:
            stored_key, lessons, errors = pickle.load(f)
        if stored_key == key:
            return lessons, errors
    except Exception:  # noqa: BLE001 - any damage to the cache only means parsing again
        pass
    from tutor.engine.loader import discover

    lessons, errors = discover(lessons_dir)
    _store(path, (key, lessons, errors))
    return lessons, errors


def _store(path: Path, value: tuple) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lessons-")  # 0600
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except Exception:  # noqa: BLE001 - no cache (read-only home, an unpicklable error): parse next time
        pass
