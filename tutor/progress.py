"""The learner's progress file: lessons finished, last position, recent learning rates.

Progress is a convenience, never a reason for the app to fail. So:

- `Progress.load()` never raises. A file that cannot be read or understood is renamed
  aside to `progress.json.corrupt-<timestamp>` (kept for the curious, never read again)
  and the app starts from empty progress with a one-line `.warning` to show.
- `Progress.save()` never raises for I/O problems either: it returns False and sets
  `.warning`. It writes a temporary file in the same directory, fsyncs it and
  `os.replace`s it over the old one, so a crash or a full disk leaves either the old
  file or the new one, never half of one. The directory is created 0700 and the file
  is 0600: on a shared host other learners cannot read it.

The default location is `platformdirs.user_state_path("tutor") / "progress.json"`,
which follows `XDG_STATE_HOME` (`~/.local/state/tutor/progress.json` by default).
`TUTOR_STATE_DIR` (set by `tutor serve` for each learner's app process) replaces the
whole directory: progress is then `$TUTOR_STATE_DIR/progress.json`.

What a teacher's view (`tutor class`) reads from the file, besides the above: per
lesson, how many runs diverged (`diverged`, a count) and the learner's predictions
(`predictions`: per cell, how many of the output's lines the prediction matched), and
`last_activity` (Unix time of the last save), so the class view never needs the
running sessions.

File format (JSON, `version` first so a future format can be recognised)::

    {"version": 1,
     "last_lesson": "01-linear-regression",
     "lessons": {"01-linear-regression": {"finished": true,
                                          "position": {"section": 2, "cell": 3},
                                          "lr_history": [0.01, 0.1],
                                          "diverged": 2,
                                          "predictions": {"3": {"matched": 2, "lines": 3}}}},
     "last_activity": 1764620000.5}

A file whose overall shape is wrong (not an object, no integer version, `lessons` not an
object) is set aside as corrupt. Inside a well-shaped file, single values of the wrong
type (a position that is not two non-negative ints, an lr that is not a finite positive
number) are dropped and the rest is kept, with a warning. A file written by a newer
version of tutor is left untouched: its progress is not shown and `save()` refuses to
overwrite it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import platformdirs

from tutor.engine.lr import is_lr

FORMAT_VERSION = 1
LR_HISTORY_LIMIT = 20
FILE_NAME = "progress.json"
STATE_DIR_ENV = "TUTOR_STATE_DIR"


def state_dir() -> Path:
    """The learner's state directory: `$TUTOR_STATE_DIR` when set (one learner of
    `tutor serve`), else the XDG state directory."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return Path(override)
    return platformdirs.user_state_path("tutor")


def default_path() -> Path:
    """Where progress lives unless told otherwise (follows TUTOR_STATE_DIR, XDG_STATE_HOME)."""
    return state_dir() / FILE_NAME


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _good_prediction(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _is_count(value.get("matched"))
        and _is_count(value.get("lines"))
        and value["matched"] <= value["lines"]
    )


class _Corrupt(Exception):
    """The file's overall shape is not a progress file."""


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_lr(value: Any) -> bool:
    """The one lr rule (engine/lr.py): what the lr field would have accepted."""
    return is_lr(value)


class Progress:
    """One learner's progress, loaded from and saved to one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.finished: set[str] = set()
        self.last_lesson: str | None = None
        self.warning: str | None = None
        self._positions: dict[str, dict[str, int]] = {}
        self._lr_history: dict[str, list[float]] = {}
        self._diverged: dict[str, int] = {}
        self._predictions: dict[str, dict[int, dict[str, int]]] = {}
        self.last_activity: float | None = None
        self._read_only = False  # set when the file was written by a newer tutor
        self._may_set_aside = True

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: Path | None = None, set_aside: bool = True) -> Progress:
        """Read progress from `path` (default: the XDG state directory). Never raises.

        `set_aside=False` is for readers of other people's files (`tutor class`): an
        unusable file is only reported in `.warning`, never renamed, and the result is
        read-only."""
        progress = cls(default_path() if path is None else path)
        progress._may_set_aside = set_aside
        progress._read_only = not set_aside
        try:
            raw = progress.path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):  # no file yet; save() reports
            return progress
        except OSError as exc:
            progress._set_aside(f"could not read it ({exc.strerror or exc})")
            return progress
        try:
            data = json.loads(raw.decode("utf-8"))
            progress._take(data)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            progress._set_aside("it is not valid JSON")
        except _Corrupt as exc:
            progress._set_aside(str(exc))
        return progress

    def _take(self, data: Any) -> None:
        """Fill self from parsed JSON; raise _Corrupt when the shape is wrong."""
        if not isinstance(data, dict):
            raise _Corrupt("it is not a JSON object")
        version = data.get("version")
        if not _is_index(version) or version == 0:
            raise _Corrupt("it has no valid version")
        if version > FORMAT_VERSION:
            self._read_only = True
            self.warning = (
                f"Progress file {self.path} was written by a newer tutor "
                f"(format {version}); progress is not shown and will not be saved."
            )
            return
        lessons = data.get("lessons", {})
        if not isinstance(lessons, dict):
            raise _Corrupt("'lessons' is not an object")
        dropped = 0
        for lesson_id, entry in lessons.items():
            if not isinstance(entry, dict):
                dropped += 1
                continue
            finished = entry.get("finished", False)
            if finished is True:
                self.finished.add(lesson_id)
            elif finished is not False:
                dropped += 1
            position = entry.get("position")
            if position is not None:
                if (
                    isinstance(position, dict)
                    and _is_index(position.get("section"))
                    and _is_index(position.get("cell"))
                ):
                    self._positions[lesson_id] = {
                        "section": position["section"],
                        "cell": position["cell"],
                    }
                else:
                    dropped += 1
            history = entry.get("lr_history", [])
            if isinstance(history, list):
                good = [float(x) for x in history if _is_lr(x)]
                dropped += len(history) - len(good)
                if good:
                    self._lr_history[lesson_id] = good[-LR_HISTORY_LIMIT:]
            else:
                dropped += 1
            diverged = entry.get("diverged", 0)
            if _is_count(diverged):
                if diverged:
                    self._diverged[lesson_id] = diverged
            else:
                dropped += 1
            predictions = entry.get("predictions", {})
            if isinstance(predictions, dict):
                for cell, result in predictions.items():
                    if isinstance(cell, str) and cell.isdigit() and _good_prediction(result):
                        self._predictions.setdefault(lesson_id, {})[int(cell)] = {
                            "matched": result["matched"], "lines": result["lines"]}
                    else:
                        dropped += 1
            else:
                dropped += 1
        activity = data.get("last_activity")
        if isinstance(activity, (int, float)) and not isinstance(activity, bool) \
                and math.isfinite(activity):
            self.last_activity = float(activity)
        elif activity is not None:
            dropped += 1
        last = data.get("last_lesson")
        if last is None or isinstance(last, str):
            self.last_lesson = last
        else:
            dropped += 1
        if dropped:
            self.warning = (
                f"Progress file {self.path}: ignored {dropped} value(s) of the wrong type."
            )

    def _set_aside(self, reason: str) -> None:
        """Rename the unusable file out of the way so the next save starts clean."""
        if not self._may_set_aside:
            self._read_only = True
            self.warning = f"Progress file {self.path} is unusable ({reason})."
            return
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            os.replace(self.path, target)
        except OSError as exc:
            self._read_only = True
            self.warning = (
                f"Progress file {self.path} is unusable ({reason}) and could not be "
                f"moved aside ({exc.strerror or exc}); progress will not be saved."
            )
            return
        self.warning = (
            f"Progress file {self.path} was unusable ({reason}); "
            f"it was moved to {target.name} and progress starts afresh."
        )

    # ------------------------------------------------------------------ queries

    def position(self, lesson_id: str) -> dict | None:
        """`{"section": int, "cell": int}` where the learner left the lesson, or None."""
        pos = self._positions.get(lesson_id)
        return dict(pos) if pos is not None else None

    def lr_history(self, lesson_id: str) -> list[float]:
        """Learning rates the learner tried in this lesson, oldest first (a copy)."""
        return list(self._lr_history.get(lesson_id, ()))

    def diverged(self, lesson_id: str) -> int:
        """How many runs of this lesson reached a non-finite cost."""
        return self._diverged.get(lesson_id, 0)

    def predictions(self, lesson_id: str) -> dict[int, dict[str, int]]:
        """Cell index -> `{"matched": m, "lines": n}`: the learner's last prediction for
        that cell matched m of the n lines compared (a copy)."""
        return {cell: dict(r) for cell, r in self._predictions.get(lesson_id, {}).items()}

    def lesson_ids(self) -> list[str]:
        """Every lesson the file knows something about, sorted."""
        return sorted(set(self.finished) | set(self._positions) | set(self._lr_history)
                      | set(self._diverged) | set(self._predictions))

    # ------------------------------------------------------------------ changes

    def mark_finished(self, lesson_id: str) -> None:
        self.finished.add(lesson_id)

    def set_position(self, lesson_id: str, section: int, cell: int) -> None:
        """Remember where the learner is; this lesson becomes the last one opened."""
        if not (_is_index(section) and _is_index(cell)):
            raise ValueError(f"position must be two non-negative ints, got {section!r}, {cell!r}")
        self._positions[lesson_id] = {"section": section, "cell": cell}
        self.last_lesson = lesson_id

    def add_lr(self, lesson_id: str, lr: float) -> None:
        """Record a learning rate the learner applied; keeps the last LR_HISTORY_LIMIT.

        Values that are not finite positive numbers are not recorded (the lr field
        refuses them anyway), and applying the same value twice in a row records it once.
        """
        if not _is_lr(lr):
            return
        history = self._lr_history.setdefault(lesson_id, [])
        if history and history[-1] == float(lr):
            return
        history.append(float(lr))
        del history[:-LR_HISTORY_LIMIT]

    def add_divergence(self, lesson_id: str) -> None:
        """Count one run of the lesson that reached a non-finite cost."""
        self._diverged[lesson_id] = self._diverged.get(lesson_id, 0) + 1

    def set_prediction(self, lesson_id: str, cell: int, matched: int, lines: int) -> None:
        """Record how close the learner's prediction for `cell` was (the last one counts)."""
        if not (_is_index(cell) and _is_count(matched) and _is_count(lines) and matched <= lines):
            raise ValueError(f"bad prediction result: cell={cell!r} {matched!r}/{lines!r}")
        self._predictions.setdefault(lesson_id, {})[cell] = {"matched": matched, "lines": lines}

    def reset_lesson(self, lesson_id: str) -> None:
        """Forget that the lesson was finished, where the learner was, and the lrs tried.

        Diverged runs and predictions stay: they are the learner's history that a
        teacher's view shows, not a position to resume from."""
        self.finished.discard(lesson_id)
        self._positions.pop(lesson_id, None)
        self._lr_history.pop(lesson_id, None)

    # ------------------------------------------------------------------ saving

    def to_json(self) -> dict:
        """The file's content as plain data (sorted, so saves are reproducible)."""
        ids = self.lesson_ids()
        lessons: dict[str, dict] = {}
        for lesson_id in ids:
            entry: dict[str, Any] = {"finished": lesson_id in self.finished}
            if lesson_id in self._positions:
                entry["position"] = dict(self._positions[lesson_id])
            if self._lr_history.get(lesson_id):
                entry["lr_history"] = list(self._lr_history[lesson_id])
            if self._diverged.get(lesson_id):
                entry["diverged"] = self._diverged[lesson_id]
            if self._predictions.get(lesson_id):
                entry["predictions"] = {
                    str(cell): dict(result)
                    for cell, result in sorted(self._predictions[lesson_id].items())}
            lessons[lesson_id] = entry
        data: dict[str, Any] = {"version": FORMAT_VERSION, "last_lesson": self.last_lesson,
                                "lessons": lessons}
        if self.last_activity is not None:
            data["last_activity"] = self.last_activity
        return data

    def save(self) -> bool:
        """Write atomically; True on success, False (with `.warning` set) on failure."""
        if self._read_only:
            return False
        self.last_activity = round(time.time(), 1)
        payload = (json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n").encode()
        directory = self.path.parent
        tmp_name: str | None = None
        try:
            _make_private_dirs(directory)
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=directory
            )  # mkstemp creates the file 0600
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(payload)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, self.path)
            tmp_name = None
            _fsync_dir(directory)
        except OSError as exc:
            self.warning = f"Could not save progress to {self.path}: {exc.strerror or exc}"
            return False
        finally:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except OSError:
                    pass
        return True


def _make_private_dirs(directory: Path) -> None:
    """Create missing directories 0700 (mkdir's mode only applies to the last one)."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; not every filesystem allows it, hence best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
