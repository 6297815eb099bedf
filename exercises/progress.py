"""Progress rules: who the student is, what they have done, and what changes it.

Anonymous students get progress at once, tied to a random key kept in their session's data; an
account takes those rows over at login (merge_into_user, called from exercises.signals). Every
function here is synchronous ORM work; async views call it through sync_to_async.

On SQLite the database runs in WAL mode (tutorial/settings.py): the checks of a class at once
write their progress in well under a millisecond each, and readers do not wait for writers.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from exercises.models import CheckFailure, ExerciseProgress

# Session entry holding the anonymous student's key (see ExerciseProgress).
SESSION_KEY = "muelle_progreso"


@dataclass(frozen=True)
class Student:
    user_id: int | None = None
    anonymous_key: str | None = None

    def rows(self) -> Q:
        if self.user_id is not None:
            return Q(user_id=self.user_id)
        return Q(anonymous_key=self.anonymous_key)

    def owner_fields(self) -> dict[str, Any]:
        if self.user_id is not None:
            return {"user_id": self.user_id, "anonymous_key": None}
        return {"user_id": None, "anonymous_key": self.anonymous_key}


def student_for(request: HttpRequest, *, create: bool = False) -> Student | None:
    """The student behind `request`: their account, or their anonymous key (made on demand)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Student(user_id=user.pk)
    key = request.session.get(SESSION_KEY)
    if not isinstance(key, str) or not key:
        if not create:
            return None
        key = secrets.token_urlsafe(24)
        request.session[SESSION_KEY] = key
    return Student(anonymous_key=key)


def progress_for(student: Student | None, lesson_slug: str) -> dict[str, ExerciseProgress]:
    if student is None:
        return {}
    rows = ExerciseProgress.objects.filter(student.rows(), lesson_slug=lesson_slug)
    return {row.exercise_id: row for row in rows}


Marks = tuple[tuple[str, bool, bool], ...]


def marks(student: Student | None, lesson_slug: str) -> Marks:
    """(exercise id, done, solution seen) for each of the student's rows in the lesson, sorted:
    all the lesson page's exercises block shows of their progress. Read with one plain SQL
    statement because every lesson page asks for it, and building the ORM query took longer
    than running it (bench/lesson_load.py); progress_for reads the same rows."""
    if student is None:
        return ()
    meta = ExerciseProgress._meta
    connection = connections[router.db_for_read(ExerciseProgress)]
    quote = connection.ops.quote_name
    owner, value = (
        ("user", student.user_id)
        if student.user_id is not None
        else ("anonymous_key", student.anonymous_key)
    )
    columns = {field.name: quote(field.column or field.name) for field in meta.concrete_fields}
    # Only the model's own table and column names, quoted, go into the text; values are params.
    table = quote(meta.db_table)
    select = f"{columns['exercise_id']}, {columns['completed_at']} IS NOT NULL, "
    select += f"{columns['solution_revealed_at']} IS NOT NULL"
    where = f"{columns[owner]} = %s AND {columns['lesson_slug']} = %s"
    sql = f"SELECT {select} FROM {table} WHERE {where}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [value, lesson_slug])
        rows = cursor.fetchall()
    return tuple(sorted((str(eid), bool(done), bool(seen)) for eid, done, seen in rows))


def completed_ids(student: Student | None, lesson_slug: str) -> set[str]:
    return {
        exercise_id
        for exercise_id, row in progress_for(student, lesson_slug).items()
        if row.completed_at is not None
    }


def _row(student: Student, lesson_slug: str, exercise_id: str) -> ExerciseProgress:
    lookup = {**student.owner_fields(), "lesson_slug": lesson_slug, "exercise_id": exercise_id}
    # No transaction around the read and the insert: on SQLite a transaction that reads and then
    # writes fails at once ("database is locked") when another connection writes meanwhile.
    # get_or_create wraps only its INSERT, and re-reads if a concurrent request inserted first.
    row, _created = ExerciseProgress.objects.get_or_create(**lookup)
    return row


def record_check(
    student: Student, lesson_slug: str, exercise_id: str, failed_checks: Sequence[int]
) -> None:
    """Counts an attempt; marks the exercise done the first time every check passes; counts
    each failed check (by its index) for the class view. One transaction, opened by a write:
    a class checking at once means many writers, and on SQLite every extra commit (and any
    transaction that reads before it writes) makes them wait for each other."""
    now = timezone.now()
    passed = not failed_checks
    owner = student.owner_fields()
    for attempt in range(2):
        try:
            with transaction.atomic():
                updated = ExerciseProgress.objects.filter(
                    **owner, lesson_slug=lesson_slug, exercise_id=exercise_id
                ).update(
                    attempts=F("attempts") + 1,
                    **({"completed_at": Coalesce("completed_at", Value(now))} if passed else {}),
                )
                if not updated:
                    ExerciseProgress.objects.create(
                        **owner,
                        lesson_slug=lesson_slug,
                        exercise_id=exercise_id,
                        attempts=1,
                        completed_at=now if passed else None,
                    )
                _count_failures(lesson_slug, exercise_id, failed_checks, now)
            return
        except IntegrityError:
            # The same student's other click created the row first: count this one on it.
            if attempt:
                raise


def _count_failures(
    lesson_slug: str, exercise_id: str, indexes: Sequence[int], now: datetime
) -> None:
    if not indexes:
        return
    counters = CheckFailure.objects.filter(lesson_slug=lesson_slug, exercise_id=exercise_id)
    updated = counters.filter(check_index__in=indexes).update(
        failures=F("failures") + 1, last_failed_at=now
    )
    if updated == len(set(indexes)):
        return  # every counter existed already (after the class's first failures, always)
    known = set(counters.filter(check_index__in=indexes).values_list("check_index", flat=True))
    # A check's very first failure by two students at the same instant may count once.
    CheckFailure.objects.bulk_create(
        [
            CheckFailure(
                lesson_slug=lesson_slug, exercise_id=exercise_id, check_index=i, failures=1
            )
            for i in sorted(set(indexes) - known)
        ],
        ignore_conflicts=True,
    )


def reveal_solution(student: Student, lesson_slug: str, exercise_id: str) -> ExerciseProgress:
    """Records (once: the first time) that the student looked at the solution."""
    row = _row(student, lesson_slug, exercise_id)
    ExerciseProgress.objects.filter(pk=row.pk, solution_revealed_at__isnull=True).update(
        solution_revealed_at=timezone.now()
    )
    row.refresh_from_db()
    return row


def reset_lesson(student: Student | None, lesson_slug: str) -> int:
    """Forgets the student's progress on every exercise of the lesson; returns rows removed."""
    if student is None:
        return 0
    deleted, _ = ExerciseProgress.objects.filter(student.rows(), lesson_slug=lesson_slug).delete()
    return deleted


def merge_into_user(anonymous_key: str, user_id: int) -> int:
    """Moves an anonymous student's progress to an account, keeping the best of both where
    both have a row (earliest completion, earliest reveal, attempts added). Returns rows moved
    or merged."""
    merged = 0
    with transaction.atomic():
        anonymous = ExerciseProgress.objects.select_for_update().filter(anonymous_key=anonymous_key)
        for row in anonymous:
            mine = ExerciseProgress.objects.filter(
                user_id=user_id, lesson_slug=row.lesson_slug, exercise_id=row.exercise_id
            ).first()
            if mine is None:
                row.user_id = user_id
                row.anonymous_key = None
                row.save(update_fields=["user", "anonymous_key"])
            else:
                mine.attempts += row.attempts
                mine.completed_at = _earliest(mine.completed_at, row.completed_at)
                mine.solution_revealed_at = _earliest(
                    mine.solution_revealed_at, row.solution_revealed_at
                )
                mine.save(update_fields=["attempts", "completed_at", "solution_revealed_at"])
                row.delete()
            merged += 1
    return merged


def _earliest(a: Any, b: Any) -> Any:
    present = [value for value in (a, b) if value is not None]
    return min(present) if present else None


@dataclass(frozen=True)
class LessonProgress:
    done: int
    total: int

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.done >= self.total

    @property
    def started(self) -> bool:
        return self.done > 0


def lesson_progress(
    student: Student | None, lesson_slug: str, exercise_ids: Iterable[str]
) -> LessonProgress:
    ids = list(exercise_ids)
    done = completed_ids(student, lesson_slug) & set(ids)
    return LessonProgress(done=len(done), total=len(ids))
