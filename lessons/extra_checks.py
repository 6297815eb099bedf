"""Checks other apps add to check_lessons, without lessons/ importing them.

The exercises app validates the `ejercicios:` key of the front matter. lessons/ sits below
exercises/ in the dependency direction (docs/architecture.md), so instead of check_lessons
importing exercises, exercises registers its check here when Django starts (AppConfig.ready).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from lessons.problems import Problem

if TYPE_CHECKING:
    from lessons.catalog import Lesson

LessonCheck = Callable[[Iterable["Lesson"]], Sequence[Problem]]

_checks: list[LessonCheck] = []


def register(check: LessonCheck) -> None:
    if check not in _checks:
        _checks.append(check)


def run(lessons: Sequence[Lesson]) -> list[Problem]:
    found: list[Problem] = []
    for check in _checks:
        found.extend(check(lessons))
    return found
