"""«Continúa donde lo dejaste»: the lesson a returning student should open next.

The lesson of their most recent activity (an attempt or a completed exercise) if it is not
finished yet; once it is, the next lesson of the course they have not completed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import F
from django.db.models.functions import Coalesce

from exercises import catalog
from exercises.models import ExerciseProgress
from exercises.progress import Student, lesson_progress


@dataclass(frozen=True)
class ResumePoint:
    lesson: Any  # a lesson of the lessons app
    started: bool  # True: in the middle of it; False: the next one to start


def _complete(student: Student, lesson: Any) -> bool:
    entry = catalog.for_lesson(lesson)
    if entry is None or not entry.exercises:
        return False
    return lesson_progress(student, entry.slug, entry.exercise_ids).complete


def resume_point(student: Student | None, lessons: Sequence[Any]) -> ResumePoint | None:
    """`lessons`: the available lessons in course order."""
    if student is None or not lessons:
        return None
    latest = (
        ExerciseProgress.objects.filter(student.rows())
        .annotate(activity=Coalesce(F("completed_at"), F("started_at")))
        .order_by("-activity", "-id")
        .values_list("lesson_slug", flat=True)
        .first()
    )
    if latest is None:
        return None
    position = next((i for i, lesson in enumerate(lessons) if lesson.slug == latest), None)
    if position is None:
        return None
    if not _complete(student, lessons[position]):
        return ResumePoint(lessons[position], started=True)
    for lesson in lessons[position + 1 :]:
        if not _complete(student, lesson):
            return ResumePoint(lesson, started=False)
    return None
