"""`tutor import NOTEBOOK.ipynb [-o PATH]`: turn a Jupyter notebook into a lesson.

Reading and writing live here; the conversion itself is the pure function
`tutor.engine.notebook.notebook_to_lesson`. The notebook's language is the
global `--lang` (default from LANG). Without `-o` the lesson goes where
`tutor new` would put it (`--lessons DIR`, else `./lessons`) with the next free
number; the id comes from the output file name (`NN-slug.md` → `slug`) or else
from the notebook's name. Nothing is ever overwritten. What the conversion had
to change or drop is listed on stderr, so the author knows what to review.
"""

from __future__ import annotations

import re
import sys
from argparse import Namespace
from pathlib import Path

from tutor.errors import UsageError
from tutor.commands.new import SLUG, lesson_directory, lesson_ids, next_lesson_path, write_new_file


def main(args: Namespace) -> int:
    import nbformat  # only this command needs it

    source = Path(args.notebook)
    try:
        nb = nbformat.read(source, as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no cells")
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from None
    except Exception as exc:  # nbformat raises many kinds for "not a notebook"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{source} is not a Jupyter notebook ({reason[:120]})") from None

    if args.output:
        path = Path(args.output)
        if path.suffix != ".md":
            raise UsageError(f"-o {args.output}: a lesson file name ends in .md")
        lesson_id = _id_from_name(_NUMBER.sub("", path.stem), f"-o {args.output}")
        if path.exists():
            raise UsageError(f"{path} already exists")
        if not path.parent.is_dir():
            raise UsageError(f"-o {args.output}: directory {path.parent} does not exist")
        used = lesson_ids(path.parent)
        if lesson_id in used:
            raise UsageError(f"lesson id {lesson_id!r} is already used by {used[lesson_id]}")
    else:
        lesson_id = _id_from_name(_slugify(source.stem), str(source))
        path = next_lesson_path(lesson_directory(args.lessons), lesson_id)

    from tutor.engine.notebook import notebook_to_lesson

    conversion = notebook_to_lesson(nb, lesson_id, args.lang, source_name=source.name)
    write_new_file(path, conversion.text)
    print(path)
    for note in conversion.notes:
        print(f"tutor import: note: {note}", file=sys.stderr)
    return 0


_NUMBER = re.compile(r"^\d+-")


def _slugify(name: str) -> str:
    """`01 Gradient Descent (v2)` → `01-gradient-descent-v2`, minus a leading number."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return _NUMBER.sub("", slug)


def _id_from_name(candidate: str, origin: str) -> str:
    if not candidate or not SLUG.fullmatch(candidate):
        raise UsageError(
            f"cannot make a lesson id from {origin}; pass -o lessons/NN-slug.md with a slug of a-z, 0-9, '-'"
        )
    return candidate
