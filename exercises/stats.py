"""Class figures for instructors: per lesson, how many students started, finished, looked at a
solution, and which checks fail most."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from exercises import catalog
from exercises.models import CheckFailure, ExerciseProgress
from exercises.spec import Check, Exercise

TOP_FAILURES = 5


@dataclass
class FailingCheck:
    exercise_id: str
    exercise_title: str
    position: int  # 1-based, as instructors count
    description: str  # the check's failure message, or why it is unknown
    failures: int


@dataclass
class ExerciseFigures:
    exercise: Exercise
    started: int = 0
    finished: int = 0
    revealed: int = 0


@dataclass
class LessonFigures:
    slug: str
    title: str
    started: int = 0
    finished: int = 0
    revealed: int = 0
    exercises: list[ExerciseFigures] = field(default_factory=list)
    failing: list[FailingCheck] = field(default_factory=list)


def _describe(check: Check) -> str:
    return f"{type(check).__name__.removesuffix('Check').lower()}: {check.error}"


def class_figures() -> list[LessonFigures]:
    figures = []
    for lesson in catalog.all_lessons():
        if not lesson.exercises:
            continue
        figures.append(lesson_figures(lesson))
    return figures


def lesson_figures(lesson: catalog.LessonExercises) -> LessonFigures:
    result = LessonFigures(slug=lesson.slug, title=lesson.title)
    ids = set(lesson.exercise_ids)
    done_by: dict[tuple[object, object], set[str]] = defaultdict(set)
    revealed_by: set[tuple[object, object]] = set()
    per_exercise = {e.id: ExerciseFigures(e) for e in lesson.exercises}
    rows = ExerciseProgress.objects.filter(lesson_slug=lesson.slug).values_list(
        "user_id", "anonymous_key", "exercise_id", "completed_at", "solution_revealed_at"
    )
    for user_id, anonymous_key, exercise_id, completed_at, revealed_at in rows:
        student = (user_id, anonymous_key)
        done_by.setdefault(student, set())
        figures = per_exercise.get(exercise_id)
        if figures is not None:
            figures.started += 1
        if completed_at is not None:
            done_by[student].add(exercise_id)
            if figures is not None:
                figures.finished += 1
        if revealed_at is not None:
            revealed_by.add(student)
            if figures is not None:
                figures.revealed += 1
    result.started = len(done_by)
    result.finished = sum(1 for done in done_by.values() if ids and ids <= done)
    result.revealed = len(revealed_by)
    result.exercises = list(per_exercise.values())
    for counter in CheckFailure.objects.filter(lesson_slug=lesson.slug).order_by("-failures")[
        :TOP_FAILURES
    ]:
        exercise = lesson.get(counter.exercise_id)
        if exercise is not None and counter.check_index < len(exercise.checks):
            description = _describe(exercise.checks[counter.check_index])
            title = exercise.title
        else:
            description = "(ya no existe en la lección)"
            title = counter.exercise_id
        result.failing.append(
            FailingCheck(
                counter.exercise_id, title, counter.check_index + 1, description, counter.failures
            )
        )
    return result
