"""What a teacher's view shows about each learner, read from `--state DIR` only.

`tutor class` never talks to the running sessions: each learner's app writes its
progress file (`DIR/<name>/progress.json`, tutor/progress.py) when it moves to
another section, finishes a lesson, diverges, compares a prediction or is left,
and this module summarises those files. So the view works while the server runs,
after it stopped, and on a copy of the directory. Files are only read: a learner's
unusable file is reported in `warning`, never renamed (Progress.load with
set_aside=False).

Plain data, no Textual: `tutor class --json` prints `to_json(read_class(...))` and
the screen (tutor/ui/screens/class_view.py) renders the same summaries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from tutor.engine.lesson import Lesson
from tutor.progress import FILE_NAME, Progress
from tutor.serve.users import check_name


@dataclass(frozen=True)
class LessonPlace:
    """A lesson id with its title and, when known, the section the learner is in."""

    lesson: str
    title_en: str = ""
    title_ko: str = ""
    section: int | None = None  # 0-based section index
    section_en: str = ""
    section_ko: str = ""


@dataclass(frozen=True)
class LearnerSummary:
    name: str
    place: LessonPlace | None        # the lesson last opened and where in it
    finished: tuple[str, ...]        # lesson ids, sorted
    last_activity: float | None      # Unix time of the last save
    diverged: int                    # runs that reached a non-finite cost, all lessons
    predictions: int                 # cells predicted (the last prediction per cell)
    matched_lines: int               # output lines those predictions got right
    predicted_lines: int             # output lines compared
    warning: str | None = None

    @property
    def closeness(self) -> float | None:
        """Share of the compared output lines that the predictions matched."""
        if not self.predicted_lines:
            return None
        return self.matched_lines / self.predicted_lines


def _place(progress: Progress, lessons: dict[str, Lesson]) -> LessonPlace | None:
    lesson_id = progress.last_lesson
    if lesson_id is None:
        return None
    position = progress.position(lesson_id)
    section = position["section"] if position else None
    lesson = lessons.get(lesson_id)
    if lesson is None:
        return LessonPlace(lesson_id, section=section)
    place = LessonPlace(lesson_id, lesson.title.en, lesson.title.ko, section)
    if section is not None and section < len(lesson.sections):
        title = lesson.sections[section].title
        place = LessonPlace(lesson_id, lesson.title.en, lesson.title.ko, section,
                            title.en, title.ko)
    return place


def summarise(name: str, progress: Progress, lessons: dict[str, Lesson]) -> LearnerSummary:
    diverged = matched = compared = predicted = 0
    for lesson_id in progress.lesson_ids():
        diverged += progress.diverged(lesson_id)
        for result in progress.predictions(lesson_id).values():
            predicted += 1
            matched += result["matched"]
            compared += result["lines"]
    return LearnerSummary(
        name=name, place=_place(progress, lessons), finished=tuple(sorted(progress.finished)),
        last_activity=progress.last_activity, diverged=diverged, predictions=predicted,
        matched_lines=matched, predicted_lines=compared, warning=progress.warning,
    )


def read_class(state_dir: Path, lessons: list[Lesson] = ()) -> list[LearnerSummary]:
    """One summary per learner directory (a valid name) in `state_dir`, sorted by name."""
    by_id = {lesson.id: lesson for lesson in lessons}
    summaries = []
    for entry in sorted(Path(state_dir).iterdir()):
        if not entry.is_dir() or check_name(entry.name):
            continue
        progress = Progress.load(entry / FILE_NAME, set_aside=False)
        summaries.append(summarise(entry.name, progress, by_id))
    return summaries


def iso_time(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc).isoformat(timespec="seconds")


def to_json(summaries: list[LearnerSummary]) -> list[dict]:
    """The `tutor class --json` array."""
    out = []
    for s in summaries:
        place = s.place
        out.append({
            "name": s.name,
            "lesson": None if place is None else {
                "id": place.lesson, "title": {"en": place.title_en, "ko": place.title_ko},
                "section": place.section,
                "section_title": {"en": place.section_en, "ko": place.section_ko},
            },
            "finished": list(s.finished),
            "last_activity": iso_time(s.last_activity),
            "diverged": s.diverged,
            "predictions": {"made": s.predictions, "matched_lines": s.matched_lines,
                            "lines": s.predicted_lines, "closeness": s.closeness},
            "warning": s.warning,
        })
    return out
