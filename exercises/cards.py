"""What the templates show for a lesson's exercises: one Card per exercise, one Block per lesson.

Built here, not in views or template tags, so the page, the htmx fragment and the no-JavaScript
page all show the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from exercises.catalog import LessonExercises
from exercises.checks import Outcome
from exercises.models import ExerciseProgress
from exercises.progress import LessonProgress, Student, lesson_progress, progress_for
from exercises.spec import Exercise
from exercises.text import markdown_html


@dataclass
class Card:
    lesson: LessonExercises
    exercise: Exercise
    progress: ExerciseProgress | None
    blocked_by: Exercise | None = None  # an unfinished exercise this one depends on
    outcomes: Sequence[Outcome] = ()
    error: str = ""  # why the checks could not run (no engine, ...), in Spanish
    answer: str = ""
    just_checked: bool = False
    show_solution: bool = False
    lesson_progress: LessonProgress | None = None

    @property
    def done(self) -> bool:
        return self.progress is not None and self.progress.completed_at is not None

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(outcome.passed for outcome in self.outcomes)

    @property
    def failed(self) -> bool:
        return bool(self.outcomes) and not self.passed

    @property
    def solution_revealed(self) -> bool:
        return self.progress is not None and self.progress.solution_revealed_at is not None

    @property
    def statement_html(self) -> str:
        return markdown_html(self.exercise.statement, f"{self.exercise.id}:enunciado")

    @property
    def hint_html(self) -> str:
        return markdown_html(self.exercise.hint, f"{self.exercise.id}:pista")

    @property
    def solution_html(self) -> str:
        return markdown_html(self.exercise.solution or "", f"{self.exercise.id}:solucion")

    @property
    def dom_id(self) -> str:
        return f"ejercicio-{self.exercise.id}"


def blocking_exercise(
    lesson: LessonExercises, exercise: Exercise, completed: set[str]
) -> Exercise | None:
    if exercise.depends_on is None or exercise.depends_on in completed:
        return None
    return lesson.get(exercise.depends_on)


def card(
    lesson: LessonExercises,
    exercise: Exercise,
    student: Student | None,
    **extra: object,
) -> Card:
    rows = progress_for(student, lesson.slug)
    completed = {eid for eid, row in rows.items() if row.completed_at is not None}
    return Card(
        lesson=lesson,
        exercise=exercise,
        progress=rows.get(exercise.id),
        blocked_by=blocking_exercise(lesson, exercise, completed),
        lesson_progress=LessonProgress(
            done=len(completed & set(lesson.exercise_ids)), total=len(lesson.exercise_ids)
        ),
        **extra,  # type: ignore[arg-type]
    )


@dataclass
class Block:
    lesson: LessonExercises
    cards: list[Card]
    progress: LessonProgress


def block(lesson: LessonExercises, student: Student | None) -> Block:
    rows = progress_for(student, lesson.slug)
    completed = {eid for eid, row in rows.items() if row.completed_at is not None}
    cards = [
        Card(
            lesson=lesson,
            exercise=exercise,
            progress=rows.get(exercise.id),
            blocked_by=blocking_exercise(lesson, exercise, completed),
        )
        for exercise in lesson.exercises
    ]
    return Block(lesson, cards, lesson_progress(student, lesson.slug, lesson.exercise_ids))
