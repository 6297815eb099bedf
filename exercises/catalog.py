"""The exercises of each lesson, read from the lessons app's catalog.

The lessons app owns finding, parsing and caching lesson files; this module only takes each
lesson's front matter and turns its `ejercicios:` into exercises.spec objects. A lesson whose
exercises are invalid is still returned, with its problems (file and line), so pages can show
them instead of failing or silently dropping them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exercises import spec
from exercises.spec import Exercise, Problem
from lessons import catalog as lessons_catalog
from lessons.problems import Problem as LessonProblem
from lessons.problems import display_path
from lessons.problems import error as lesson_error


@dataclass(frozen=True)
class LessonExercises:
    slug: str
    title: str
    url: str
    source: str  # the lesson file, for error messages
    exercises: tuple[Exercise, ...]
    problems: tuple[Problem, ...] = ()

    @property
    def exercise_ids(self) -> list[str]:
        return [exercise.id for exercise in self.exercises]

    def get(self, exercise_id: str) -> Exercise | None:
        return next((e for e in self.exercises if e.id == exercise_id), None)


def from_front_matter(
    *,
    slug: str,
    title: str,
    url: str,
    source: str,
    front_matter: Mapping[str, Any],
    yaml_text: str | None = None,
    first_line: int = 1,
) -> LessonExercises:
    try:
        exercises = spec.parse(front_matter, source=yaml_text, first_line=first_line)
    except spec.InvalidExercises as exc:
        return LessonExercises(slug, title, url, source, (), tuple(exc.problems))
    return LessonExercises(slug, title, url, source, tuple(exercises))


def for_lesson(lesson: Any) -> LessonExercises | None:
    """The exercises of `lesson` (a lessons.catalog.Lesson or its slug); None if no such
    available lesson. A slug is looked up as the lesson's page looks it up
    (lessons.catalog.get_catalog_for_page: a stat of that lesson's file, not a walk of the whole
    folder, so an edit of the lesson shows at once): every «Comprobar» asks for it, and the walk
    cost each click 0.6 ms of the server's time."""
    if isinstance(lesson, str):
        lesson = lessons_catalog.get_catalog_for_page(lesson).get(lesson)
    if lesson is None or not getattr(lesson, "slug", None):
        return None
    return _adapt(lesson)


def all_lessons() -> list[LessonExercises]:
    """Every available lesson, in course order."""
    return [_adapt(lesson) for lesson in lessons_catalog.get_catalog()]


# Parsed exercises per lesson file version: the index asks for every lesson on each request.
_cache: dict[tuple[str, int, int, str], LessonExercises] = {}
_CACHE_MAX = 512


def _adapt(lesson: lessons_catalog.Lesson) -> LessonExercises:
    key = (str(lesson.path), lesson.mtime_ns, lesson.size, lesson.slug or "")
    hit = _cache.get(key)
    if hit is not None:
        return hit
    entry = from_front_matter(
        slug=lesson.slug or "",
        title=lesson.title,
        url=lesson.url or "",
        source=display_path(lesson.path),
        front_matter=lesson.front_matter,
        yaml_text=lesson.front_matter_text or None,
        first_line=lesson.front_matter_line,
    )
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = entry
    return entry


def lesson_problems(lessons: Iterable[lessons_catalog.Lesson]) -> list[LessonProblem]:
    """Problems of the lessons' exercises as lesson problems (file, line, error), for
    check_lessons."""
    found: list[LessonProblem] = []
    for lesson in lessons:
        if not isinstance(lesson.front_matter, Mapping) or spec.KEY not in lesson.front_matter:
            continue
        fallback = lesson.key_lines.get(spec.KEY, lesson.front_matter_line)
        for problem in spec.validate(
            lesson.front_matter,
            source=lesson.front_matter_text or None,
            first_line=lesson.front_matter_line,
        ):
            message = f"{problem.where}: {problem.message}" if problem.where else problem.message
            found.append(lesson_error(lesson.path, problem.line or fallback, message))
    return found
